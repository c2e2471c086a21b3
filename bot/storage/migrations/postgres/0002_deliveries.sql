-- Slack deliveries already handled, to recognise Slack's retries of them (in whichever process).

CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX deliveries_at ON deliveries (at);
