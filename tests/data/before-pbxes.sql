PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL);
INSERT INTO schema_migrations VALUES('0001_initial',1796631684.4003622531);
INSERT INTO schema_migrations VALUES('0002_deliveries',1796631684.4004776477);
INSERT INTO schema_migrations VALUES('0003_claims_and_choices',1796631684.4054732323);
INSERT INTO schema_migrations VALUES('0004_watch',1796631684.4056751727);
INSERT INTO schema_migrations VALUES('0005_allow_and_home',1796631684.4063465595);
INSERT INTO schema_migrations VALUES('0006_rules',1796631684.4074349403);
INSERT INTO schema_migrations VALUES('0007_reminders',1796631684.4077949523);
INSERT INTO schema_migrations VALUES('0008_reports',1796631684.4078714848);
INSERT INTO schema_migrations VALUES('0009_undone',1796631684.4079403877);
INSERT INTO schema_migrations VALUES('0010_said_once_slack_took_it',1796631684.4085624218);
INSERT INTO schema_migrations VALUES('0011_evidence',1796631684.4087598323);
INSERT INTO schema_migrations VALUES('0012_allows',1796631684.4089975356);
CREATE TABLE requests (
    id           TEXT PRIMARY KEY,
    targets      TEXT NOT NULL,
    requester    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    reason       TEXT,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL,
    state        TEXT NOT NULL,
    message_ts   TEXT,
    resolved_by  TEXT,
    resolved_at  REAL,
    results      TEXT NOT NULL DEFAULT '[]',
    undo_until   REAL,
    undone_by    TEXT,
    undone_at    REAL,
    undo_results TEXT NOT NULL DEFAULT '[]'
, owner TEXT, heartbeat_at REAL, asked_in TEXT, allow_for REAL, rule TEXT, auto INTEGER NOT NULL DEFAULT 0, approvals TEXT NOT NULL DEFAULT '[]', approvals_needed INTEGER NOT NULL DEFAULT 1, asked_address TEXT, allow_only INTEGER NOT NULL DEFAULT 0, reminded_at REAL, escalation TEXT, reminding TEXT, reminding_at REAL, evidence TEXT);
INSERT INTO requests VALUES('aaaaaaaaaaaaaaaa','[{"kind": "address", "Id": 42, "etag": "W/\"1\"", "IPAddrMask": "203.0.113.7", "Description": "Failed SIP registrations", "BlockType": "Block", "AddedBy": "AutoBlacklist", "ExpiresAt": null}]','UALICE','C0GENERAL','VPN moved',1800000000.0,2500000000.0,'pending','1800000000.000100',NULL,NULL,'[]',NULL,NULL,NULL,'[]',NULL,NULL,NULL,NULL,NULL,0,'[]',1,NULL,0,NULL,NULL,NULL,NULL,NULL);
INSERT INTO requests VALUES('bbbbbbbbbbbbbbbb','[{"kind": "address", "Id": 43, "etag": "W/\"1\"", "IPAddrMask": "198.51.100.0/24", "Description": "Failed SIP registrations", "BlockType": "Block", "AddedBy": "AutoBlacklist", "ExpiresAt": null}]','UALICE','C0GENERAL','VPN moved',1800000000.0,2500000000.0,'unblocked',NULL,'UBOB',1800000010.0,'[["deleted", "HTTP 204", null, false, null, null, false]]',1800000311.0,NULL,NULL,'[]',NULL,1800000010.0,NULL,NULL,NULL,0,'[]',1,NULL,0,NULL,NULL,NULL,NULL,NULL);
INSERT INTO requests VALUES('cccccccccccccccc','[{"kind": "number", "Id": "n1", "etag": null, "CallerId": "+15550100", "Description": null}]','UALICE','C0GENERAL','VPN moved',1800000000.0,2500000000.0,'denied',NULL,'UBOB',1800000020.0,'[]',NULL,NULL,NULL,'[]',NULL,NULL,NULL,NULL,NULL,0,'[]',1,NULL,0,NULL,NULL,NULL,NULL,NULL);
INSERT INTO requests VALUES('dddddddddddddddd','[{"kind": "address", "Id": 44, "etag": "W/\"1\"", "IPAddrMask": "192.0.2.44", "Description": "Failed SIP registrations", "BlockType": "Block", "AddedBy": "AutoBlacklist", "ExpiresAt": null}]','UALICE','C0GENERAL','VPN moved',1800000000.0,2500000000.0,'executing',NULL,'UBOB',1800000030.0,'[]',NULL,NULL,NULL,'[]','bot-old',1800000030.0,NULL,NULL,NULL,0,'[]',1,NULL,0,NULL,NULL,NULL,NULL,NULL);
INSERT INTO requests VALUES('eeeeeeeeeeeeeeee','[{"kind": "address", "Id": 45, "etag": "W/\"1\"", "IPAddrMask": "192.0.2.45", "Description": "Failed SIP registrations", "BlockType": "Block", "AddedBy": "AutoBlacklist", "ExpiresAt": null}]','UALICE','C0GENERAL','VPN moved',1800000000.0,2500000000.0,'unblocked',NULL,'UBOB',1800000040.0,'[["deleted", "HTTP 204; allow entry 97 added (HTTP 201)", null, false, 97, 1800003600.0, false]]',NULL,NULL,NULL,'[]',NULL,1800000040.0,NULL,3600.0,NULL,0,'[]',1,NULL,0,NULL,NULL,NULL,NULL,NULL);
CREATE TABLE transitions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL REFERENCES requests (id),
    from_state TEXT,
    to_state   TEXT NOT NULL,
    actor      TEXT,
    at         REAL NOT NULL,
    answer     TEXT
);
INSERT INTO transitions VALUES(1,'aaaaaaaaaaaaaaaa',NULL,'pending','UALICE',1800000000.0,NULL);
INSERT INTO transitions VALUES(2,'bbbbbbbbbbbbbbbb',NULL,'pending','UALICE',1800000000.0,NULL);
INSERT INTO transitions VALUES(3,'cccccccccccccccc',NULL,'pending','UALICE',1800000000.0,NULL);
INSERT INTO transitions VALUES(4,'dddddddddddddddd',NULL,'pending','UALICE',1800000000.0,NULL);
INSERT INTO transitions VALUES(5,'eeeeeeeeeeeeeeee',NULL,'pending','UALICE',1800000000.0,NULL);
INSERT INTO transitions VALUES(6,'bbbbbbbbbbbbbbbb','pending','executing','UBOB',1800000010.0,NULL);
INSERT INTO transitions VALUES(7,'bbbbbbbbbbbbbbbb','executing','unblocked','UBOB',1800000011.0,'HTTP 204');
INSERT INTO transitions VALUES(8,'cccccccccccccccc','pending','denied','UBOB',1800000020.0,NULL);
INSERT INTO transitions VALUES(9,'dddddddddddddddd','pending','executing','UBOB',1800000030.0,NULL);
INSERT INTO transitions VALUES(10,'eeeeeeeeeeeeeeee','pending','executing','UBOB',1800000040.0,NULL);
INSERT INTO transitions VALUES(11,'eeeeeeeeeeeeeeee','executing','unblocked','UBOB',1800000041.0,'HTTP 204; allow entry 97 added (HTTP 201)');
CREATE TABLE deliveries (
    key TEXT PRIMARY KEY,
    at  REAL NOT NULL
, handled_by TEXT);
CREATE TABLE open_targets (
    target     TEXT PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES requests (id)
);
INSERT INTO open_targets VALUES('address:42','aaaaaaaaaaaaaaaa');
INSERT INTO open_targets VALUES('address:44','dddddddddddddddd');
CREATE TABLE choices (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    at   REAL NOT NULL
);
CREATE TABLE access_tokens (
    name     TEXT PRIMARY KEY,
    token    TEXT NOT NULL,
    renew_at REAL NOT NULL
);
INSERT INTO access_tokens VALUES('threecx','token-before-pbxes',4102444800.0);
CREATE TABLE watch_state (
    name         TEXT PRIMARY KEY,
    high_water   INTEGER,
    holder       TEXT,
    heartbeat_at REAL
);
INSERT INTO watch_state VALUES('blocklist',50,'bot-old',1800000000.0);
CREATE TABLE announcements (
    entry_id   INTEGER PRIMARY KEY,
    entry      TEXT NOT NULL,
    channel    TEXT NOT NULL,
    message_ts TEXT,
    in_summary INTEGER NOT NULL DEFAULT 0,
    gone       INTEGER NOT NULL DEFAULT 0,
    checked_at REAL NOT NULL DEFAULT 0,
    at         REAL NOT NULL
);
INSERT INTO announcements VALUES(50,'{"kind": "address", "Id": 50, "etag": "W/\"1\"", "IPAddrMask": "192.0.2.50", "Description": "Failed SIP registrations", "BlockType": "Block", "AddedBy": "AutoBlacklist", "ExpiresAt": null}','C0WATCH','1800000000.000200',0,0,0.0,1800000000.0);
CREATE TABLE home_viewers (
    user_id   TEXT PRIMARY KEY,
    opened_at REAL NOT NULL
);
CREATE TABLE reports (
    due_at INTEGER PRIMARY KEY,
    posted INTEGER NOT NULL,
    holder TEXT NOT NULL,
    at     REAL NOT NULL
, sent_at REAL);
CREATE TABLE allows (
    request_id TEXT PRIMARY KEY,
    entry_id INTEGER NOT NULL,
    address TEXT NOT NULL,
    added_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    duration REAL NOT NULL,
    phase TEXT NOT NULL DEFAULT 'active',
    change_by TEXT,
    holder TEXT,
    held_at REAL,
    extend_to REAL,
    extended_by TEXT,
    extended_at REAL,
    warned_for REAL,
    saying TEXT,
    saying_at REAL,
    done_claim TEXT,
    ended_at REAL,
    ended_by TEXT,
    ended_how TEXT,
    told_at REAL,
    checked_at REAL
);
INSERT INTO allows VALUES('eeeeeeeeeeeeeeee',97,'192.0.2.45',1800000041.0,1800003641.0,3600.0,'active',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('transitions',11);
CREATE INDEX requests_pending ON requests (state, expires_at);
CREATE INDEX requests_created ON requests (created_at);
CREATE INDEX transitions_request ON transitions (request_id, seq);
CREATE INDEX deliveries_at ON deliveries (at);
CREATE INDEX requests_claimed ON requests (state, heartbeat_at);
CREATE INDEX requests_channel ON requests (channel, created_at);
CREATE INDEX choices_at ON choices (at);
CREATE INDEX announcements_showing ON announcements (checked_at, entry_id)
    WHERE message_ts IS NOT NULL AND NOT in_summary AND NOT gone;
CREATE INDEX requests_requester ON requests (requester, created_at);
CREATE INDEX requests_open ON requests (state, created_at);
CREATE INDEX home_viewers_opened ON home_viewers (opened_at);
CREATE INDEX requests_undone ON requests (undone_at);
CREATE INDEX allows_in_force ON allows (ends_at) WHERE phase <> 'ended';
CREATE INDEX allows_untold ON allows (ended_at) WHERE phase = 'ended' AND told_at IS NULL;
COMMIT;
