-- Who holds a claimed request (executing, undoing) and when it last said it is alive; which
-- entries are in an open request (one open request per entry); the state of a chooser, so that
-- its buttons carry only an id; which process handled a delivery first; the 3CX access token,
-- shared with `python -m bot check`.

ALTER TABLE requests ADD COLUMN owner TEXT;
ALTER TABLE requests ADD COLUMN heartbeat_at REAL;
UPDATE requests SET heartbeat_at = CASE state WHEN 'undoing' THEN undone_at ELSE resolved_at END
    WHERE state IN ('executing', 'undoing');
CREATE INDEX requests_claimed ON requests (state, heartbeat_at);
CREATE INDEX requests_channel ON requests (channel, created_at);

CREATE TABLE open_targets (
    target     TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id)
);
INSERT OR IGNORE INTO open_targets (target, request_id)
    SELECT json_extract(t.value, '$.kind') || ':' || json_extract(t.value, '$.Id'), r.id
    FROM requests r, json_each(r.targets) t WHERE r.state IN ('pending', 'executing');

CREATE TABLE choices (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    at   REAL NOT NULL
);
CREATE INDEX choices_at ON choices (at);

ALTER TABLE deliveries ADD COLUMN handled_by TEXT;

CREATE TABLE access_tokens (
    name     TEXT PRIMARY KEY,
    token    TEXT NOT NULL,
    renew_at REAL NOT NULL
);
