-- The blocklist watcher: who watches (one process at a time, a lease renewed by its heartbeat) and
-- how far it has read 3CX's list (the highest entry Id seen, NULL until watching has started); each
-- new entry it announced, the message that shows it, whether it is shown in the summary of a burst,
-- whether 3CX no longer lists it, and when that was last checked.

CREATE TABLE watch_state (
    name         TEXT PRIMARY KEY,
    high_water   BIGINT,
    holder       TEXT,
    heartbeat_at DOUBLE PRECISION
);

CREATE TABLE announcements (
    entry_id   BIGINT PRIMARY KEY,
    entry      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    message_ts TEXT,
    in_summary BOOLEAN NOT NULL DEFAULT false,
    gone       BOOLEAN NOT NULL DEFAULT false,
    checked_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    at         DOUBLE PRECISION NOT NULL
);
-- the announcements whose message is still checked against 3CX, the ones checked longest ago first
CREATE INDEX announcements_showing ON announcements (checked_at, entry_id)
    WHERE message_ts IS NOT NULL AND NOT in_summary AND NOT gone;
