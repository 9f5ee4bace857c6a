-- Members. name and email are erased (NULL) when the member is deleted; the row stays as a
-- tombstone so the id is never reused and the version keeps growing.
-- Ids and times are TEXT (UUID and RFC 3339, microseconds, UTC) so that the same queries run on
-- SQLite and PostgreSQL through sqlx's Any driver.
CREATE TABLE members (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT,
    email       TEXT UNIQUE,
    status      TEXT NOT NULL CHECK (status IN ('active', 'deleted')),
    version     BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);

-- Transactional outbox: written in the same transaction as the change it describes, published
-- by the relay in sequence order, then stamped published_at.
CREATE TABLE outbox (
    sequence      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    member_id     TEXT NOT NULL,
    event_type    TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    published_at  TEXT
);

CREATE INDEX outbox_unpublished ON outbox (sequence) WHERE published_at IS NULL;
