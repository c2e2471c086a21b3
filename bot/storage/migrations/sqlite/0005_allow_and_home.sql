-- Approve and allow (for how long the address is allowed once the block is removed); the channel a
-- request was asked in when its card is in the approvals channel; who has looked at the bot's Home
-- tab, and when, so that a change refreshes the Home tabs people may be looking at.

ALTER TABLE requests ADD COLUMN asked_in TEXT;
ALTER TABLE requests ADD COLUMN allow_for REAL;
CREATE INDEX requests_requester ON requests (requester, created_at);
CREATE INDEX requests_open ON requests (state, created_at);

CREATE TABLE home_viewers (
    user_id   TEXT PRIMARY KEY,
    opened_at REAL NOT NULL
);
CREATE INDEX home_viewers_opened ON home_viewers (opened_at);
