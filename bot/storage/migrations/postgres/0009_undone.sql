-- The requests an Undo was claimed for, the last undone first: the blocklist watcher asks them whether an entry
-- it sees is one an Undo put back (it never unblocks that one again).

CREATE INDEX requests_undone ON requests (undone_at);
