-- SQLite.

-- The member version each applied event carried, so that the order in which one member's events
-- were applied can be checked afterwards (an audit, and the failure-injection suite, do).
ALTER TABLE processed_events ADD COLUMN member_version BIGINT;

-- One row per member whose events arrived. Every transaction that applies, parks or replays a
-- member's events writes this row first, which locks it (a row lock on PostgreSQL, the write
-- lock on SQLite): one member's events are handled one at a time, in order, by the consumer and
-- by an operator's replay alike.
CREATE TABLE member_streams (
    member_id  TEXT PRIMARY KEY NOT NULL
);

-- Events this service could not process, with the bytes exactly as they arrived. While a member
-- has a parked event, its later events are parked behind it, so the member's order is never
-- broken. A copy of each is also published to the dead-letter topic; this table is what the
-- operator tools (`reservation-service dlq ...`) work on.
CREATE TABLE parked_events (
    id                TEXT PRIMARY KEY NOT NULL,
    -- From the event, or from the message key when the payload cannot be decoded; NULL when
    -- neither names a member.
    member_id         TEXT,
    event_id          TEXT,
    source_topic      TEXT NOT NULL,
    source_partition  BIGINT NOT NULL,
    source_offset     BIGINT NOT NULL,
    message_key       BLOB,
    payload           BLOB,
    reason            TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    first_failed_at   TEXT NOT NULL,
    parked_at         TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('parked', 'replayed', 'discarded')),
    resolved_at       TEXT,
    -- The replay's outcome, or the operator's reason for discarding.
    resolution        TEXT,
    UNIQUE (source_topic, source_partition, source_offset)
);

CREATE INDEX parked_events_by_member ON parked_events (member_id, source_partition, source_offset);
