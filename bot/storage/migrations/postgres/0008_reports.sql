-- The weekly reports (UNBLOCK_REPORT_CHANNEL): one row per report, keyed by the moment it was due, inserted by
-- the one process that posts it; posted = false for the moment reporting began, recorded without a post.

CREATE TABLE reports (
    due_at BIGINT PRIMARY KEY,
    posted BOOLEAN NOT NULL,
    holder TEXT NOT NULL,
    at     DOUBLE PRECISION NOT NULL
);
