-- The weekly reports (UNBLOCK_REPORT_CHANNEL): one row per report, keyed by the moment it was due, inserted by
-- the one process that posts it; posted = 0 for the moment reporting began, recorded without a post.

CREATE TABLE reports (
    due_at INTEGER PRIMARY KEY,
    posted INTEGER NOT NULL,
    holder TEXT NOT NULL,
    at     REAL NOT NULL
);
