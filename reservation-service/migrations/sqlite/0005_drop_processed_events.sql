-- SQLite.

-- The consumer no longer records each event it processed: the member list's version per member
-- (known_members.version, the last version applied) is the idempotency key. An event at that
-- version is a duplicate, an older one stale; neither has an effect. The audits that read the
-- order of application read the change log instead (member_learned, member_deleted).
DROP TABLE processed_events;
