-- Reminders and escalation: when the approvers of a request still waiting were reminded (once), and when and to
-- whom it was escalated (once; JSON: at, after, users, groups). NULL: not yet.

ALTER TABLE requests ADD COLUMN reminded_at DOUBLE PRECISION;
ALTER TABLE requests ADD COLUMN escalation TEXT;
