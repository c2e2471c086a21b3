-- The processes that share the PBXes' watches: each says it is there every few seconds (`seen_at`) and counts
-- those seen lately, to know its share of the watches.

CREATE TABLE watchers (
    holder  TEXT PRIMARY KEY,
    seen_at DOUBLE PRECISION NOT NULL
);
