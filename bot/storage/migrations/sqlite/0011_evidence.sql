-- What 3CX knew about a request's address when it was asked for: the newest lines of its event log that name
-- it, the phones registered from it, and its anti-hacking thresholds (JSON; NULL: not asked).

ALTER TABLE requests ADD COLUMN evidence TEXT;
