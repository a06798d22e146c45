-- One leader per environment. The leader holds a session advisory lock on a connection of its own and,
-- on taking over, raises `epoch`: the fencing token. Every state-changing transaction reads this row
-- FOR SHARE and is refused when its epoch is not the current one, so a deposed leader commits nothing,
-- and a takeover (an UPDATE of the row) waits for a write already under way to finish first.
CREATE TABLE leadership (
  environment    text PRIMARY KEY,
  epoch          bigint NOT NULL CHECK (epoch > 0),
  holder         text NOT NULL,             -- the leading instance's name ([server] instance_name)
  advertise_url  text NOT NULL DEFAULT '',  -- where standbys forward writes ([server] advertise_url)
  acquired_at    timestamptz NOT NULL
);
