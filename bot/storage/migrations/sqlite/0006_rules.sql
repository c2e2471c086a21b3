-- Rules (UNBLOCK_RULES): the rule that decided for a request, whether it was carried out without approval,
-- the approvals recorded so far and how many it needs; and Allow only: the one address asked for inside a
-- blocked network, and whether the request let only that address in (the network's block left in place).

ALTER TABLE requests ADD COLUMN rule TEXT;
ALTER TABLE requests ADD COLUMN auto INTEGER NOT NULL DEFAULT 0;
ALTER TABLE requests ADD COLUMN approvals TEXT NOT NULL DEFAULT '[]';
ALTER TABLE requests ADD COLUMN approvals_needed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE requests ADD COLUMN asked_address TEXT;
ALTER TABLE requests ADD COLUMN allow_only INTEGER NOT NULL DEFAULT 0;
