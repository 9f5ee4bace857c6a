-- PostgreSQL. Ids and times are TEXT (UUID and RFC 3339, microseconds, UTC) so that the same
-- queries run on SQLite and PostgreSQL through sqlx's Any driver.

-- This service's own list of members, built only from member events (it never calls the
-- member service). version is the last member version applied; older events are ignored.
CREATE TABLE known_members (
    member_id   TEXT PRIMARY KEY NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
    version     BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE reservations (
    id                   TEXT PRIMARY KEY NOT NULL,
    member_id            TEXT NOT NULL,
    resource             TEXT NOT NULL,
    starts_at            TEXT NOT NULL,
    ends_at              TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    cancellation_reason  TEXT CHECK (cancellation_reason IN ('member_deleted', 'cancelled_by_user')),
    created_at           TEXT NOT NULL,
    cancelled_at         TEXT,
    CHECK (ends_at > starts_at)
);

CREATE INDEX reservations_by_member ON reservations (member_id, id);
CREATE INDEX reservations_active_by_resource ON reservations (resource, starts_at) WHERE status = 'active';

-- One row per reserved resource, locked while a reservation for it is made, so that two
-- concurrent requests cannot both pass the overlap check.
CREATE TABLE resources (
    name  TEXT PRIMARY KEY NOT NULL
);

-- Every event applied, by id, written in the transaction that applied it: a redelivered event
-- finds its id here and has no second effect.
CREATE TABLE processed_events (
    event_id      TEXT PRIMARY KEY NOT NULL,
    member_id     TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    event_time    TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    processed_at  TEXT NOT NULL
);
