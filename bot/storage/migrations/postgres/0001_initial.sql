-- Requests, their transitions and the shared 3CX access token.
-- The same columns as the SQLite schema (bot/store.py). Targets and results are JSON
-- read and written whole; the json type keeps the text exactly as written.

CREATE TABLE requests (
    id           TEXT PRIMARY KEY,
    targets      JSON NOT NULL,
    requester    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    reason       TEXT,
    created_at   DOUBLE PRECISION NOT NULL,
    expires_at   DOUBLE PRECISION NOT NULL,
    state        TEXT NOT NULL,
    message_ts   TEXT,
    resolved_by  TEXT,
    resolved_at  DOUBLE PRECISION,
    results      JSON NOT NULL DEFAULT '[]',
    undo_until   DOUBLE PRECISION,
    undone_by    TEXT,
    undone_at    DOUBLE PRECISION,
    undo_results JSON NOT NULL DEFAULT '[]',
    -- insertion order, which breaks ties between requests made in the same instant
    seq          BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX requests_pending ON requests (state, expires_at);
CREATE INDEX requests_created ON requests (created_at, seq);

CREATE TABLE transitions (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id),
    from_state TEXT,
    to_state   TEXT NOT NULL,
    actor      TEXT,
    at         DOUBLE PRECISION NOT NULL,
    answer     TEXT
);
CREATE INDEX transitions_request ON transitions (request_id, seq);

-- 3CX keeps one active token per API client, so the bot processes sharing this
-- database share its token: one row, renewed by one process at a time (advisory lock).
CREATE TABLE access_tokens (
    name     TEXT PRIMARY KEY,
    token    TEXT NOT NULL,
    renew_at DOUBLE PRECISION NOT NULL
);
