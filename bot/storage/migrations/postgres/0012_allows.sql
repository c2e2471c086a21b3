-- The allow entries the bot added (Approve and allow, Allow only), one per request, and their life: active,
-- extending or ending (a change claimed by `holder`, a token unique to the claim, since `held_at`, asked by
-- `change_by`), then ended (when, by whom, how: expired, end_now, removed, undone). `done_claim`: the token of the
-- claim that made the last change (an Extend, or the end: it names the process), so that a write tried again is
-- recognised. A warning is claimed (`saying` since `saying_at`) and recorded for the end it was about
-- (`warned_for`); the message of the end likewise, then `told_at`. `checked_at`: when 3CX was last asked whether
-- it still lists the entry.

CREATE TABLE allows (
    request_id TEXT PRIMARY KEY,
    entry_id BIGINT NOT NULL,
    address TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL,
    ends_at DOUBLE PRECISION NOT NULL,
    duration DOUBLE PRECISION NOT NULL,
    phase TEXT NOT NULL DEFAULT 'active',
    change_by TEXT,
    holder TEXT,
    held_at DOUBLE PRECISION,
    extend_to DOUBLE PRECISION,
    extended_by TEXT,
    extended_at DOUBLE PRECISION,
    warned_for DOUBLE PRECISION,
    saying TEXT,
    saying_at DOUBLE PRECISION,
    done_claim TEXT,
    ended_at DOUBLE PRECISION,
    ended_by TEXT,
    ended_how TEXT,
    told_at DOUBLE PRECISION,
    checked_at DOUBLE PRECISION
);
CREATE INDEX allows_in_force ON allows (ends_at) WHERE phase <> 'ended';
CREATE INDEX allows_untold ON allows (ended_at) WHERE phase = 'ended' AND told_at IS NULL;
