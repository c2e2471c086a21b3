-- The weekly report and a reminder are recorded as sent only once Slack took them. A report's row is first a
-- claim (sent_at NULL: its holder is posting it since `at`), then sent (sent_at: when Slack took it); a claim
-- not sent in time belongs to a process that stopped, and another one takes it over. A request's reminder is
-- claimed the same way (reminding: who sends it, since reminding_at) before reminded_at is set.

ALTER TABLE reports ADD COLUMN sent_at DOUBLE PRECISION;
UPDATE reports SET sent_at = at;
ALTER TABLE requests ADD COLUMN reminding TEXT;
ALTER TABLE requests ADD COLUMN reminding_at DOUBLE PRECISION;
