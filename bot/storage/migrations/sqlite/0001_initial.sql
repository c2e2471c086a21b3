-- Requests and their transitions. Targets and results are JSON, read and written whole.

CREATE TABLE requests (
    id           TEXT PRIMARY KEY,
    targets      TEXT NOT NULL,
    requester    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    reason       TEXT,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL,
    state        TEXT NOT NULL,
    message_ts   TEXT,
    resolved_by  TEXT,
    resolved_at  REAL,
    results      TEXT NOT NULL DEFAULT '[]',
    undo_until   REAL,
    undone_by    TEXT,
    undone_at    REAL,
    undo_results TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX requests_pending ON requests (state, expires_at);
CREATE INDEX requests_created ON requests (created_at);

CREATE TABLE transitions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL REFERENCES requests (id),
    from_state TEXT,
    to_state   TEXT NOT NULL,
    actor      TEXT,
    at         REAL NOT NULL,
    answer     TEXT
);
CREATE INDEX transitions_request ON transitions (request_id, seq);
