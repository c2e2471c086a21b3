-- Who holds a claimed request (executing, undoing) and when it last said it is alive; which
-- entries are in an open request (one open request per entry); the state of a chooser, so that
-- its buttons carry only an id; which process handled a delivery first.

ALTER TABLE requests ADD COLUMN owner TEXT;
ALTER TABLE requests ADD COLUMN heartbeat_at DOUBLE PRECISION;
UPDATE requests SET heartbeat_at = CASE state WHEN 'undoing' THEN undone_at ELSE resolved_at END
    WHERE state IN ('executing', 'undoing');
CREATE INDEX requests_claimed ON requests (state, heartbeat_at);
CREATE INDEX requests_channel ON requests (channel, created_at, seq);

CREATE TABLE open_targets (
    target     TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id)
);
INSERT INTO open_targets (target, request_id)
    SELECT (t ->> 'kind') || ':' || (t ->> 'Id'), r.id
    FROM requests r, json_array_elements(r.targets) t WHERE r.state IN ('pending', 'executing')
    ON CONFLICT DO NOTHING;

CREATE TABLE choices (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    at   DOUBLE PRECISION NOT NULL
);
CREATE INDEX choices_at ON choices (at);

-- which process handled a delivery first (so that a retried insert can tell it was its own)
ALTER TABLE deliveries ADD COLUMN handled_by TEXT;
