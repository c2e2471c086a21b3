-- One database for several PBXes: each request, allow entry and announcement names its PBX ('': the one PBX of a
-- bot that serves one, and whatever was kept before PBXes had names); two PBXes may both announce their entry 42,
-- so an announcement is keyed by its PBX and entry Id. `pbxes`: the URL each PBX's name was last served at, so that
-- the data of a name no longer served can move to the PBX now served at its URL. The reads of one PBX start with
-- its name.

ALTER TABLE requests ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
ALTER TABLE allows ADD COLUMN pbx TEXT NOT NULL DEFAULT '';

ALTER TABLE announcements ADD COLUMN pbx TEXT NOT NULL DEFAULT '';
ALTER TABLE announcements DROP CONSTRAINT announcements_pkey;
ALTER TABLE announcements ADD PRIMARY KEY (pbx, entry_id);
-- the announcements whose message is still checked against 3CX, the ones checked longest ago first
DROP INDEX announcements_showing;
CREATE INDEX announcements_showing ON announcements (pbx, checked_at, entry_id)
    WHERE message_ts IS NOT NULL AND NOT in_summary AND NOT gone;

CREATE TABLE pbxes (
    name TEXT PRIMARY KEY,
    url  TEXT NOT NULL
);

DROP INDEX requests_pending;
CREATE INDEX requests_pending ON requests (pbx, state, expires_at);
DROP INDEX requests_claimed;
CREATE INDEX requests_claimed ON requests (pbx, state, heartbeat_at);
DROP INDEX requests_undone;
CREATE INDEX requests_undone ON requests (pbx, undone_at);
CREATE INDEX requests_open_of_pbx ON requests (pbx, state, created_at, seq);
CREATE INDEX requests_created_of_pbx ON requests (pbx, created_at, seq);
CREATE INDEX requests_resolved ON requests (pbx, state, resolved_at);
DROP INDEX allows_in_force;
CREATE INDEX allows_in_force ON allows (pbx, ends_at) WHERE phase <> 'ended';
DROP INDEX allows_untold;
CREATE INDEX allows_untold ON allows (pbx, ended_at) WHERE phase = 'ended' AND told_at IS NULL;
