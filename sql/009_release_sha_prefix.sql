-- promotectl takes a unique SHA prefix, as git does: GET /v1/releases?sha_prefix= runs `sha LIKE 'abcd%'`.
-- The primary key's index serves LIKE only under the C collation; this one serves it under any.
CREATE INDEX releases_sha_prefix_idx ON releases (sha text_pattern_ops);
