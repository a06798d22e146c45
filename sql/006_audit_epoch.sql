-- The leadership epoch under which each audit entry was written (NULL: written before leadership existed).
-- With it the trail shows that a deposed leader wrote nothing after a newer leader took over.
ALTER TABLE audit_log ADD COLUMN epoch bigint;
