-- Slack deliveries already handled, to recognise Slack's retries of them.

CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    at  REAL NOT NULL
);
CREATE INDEX deliveries_at ON deliveries (at);
