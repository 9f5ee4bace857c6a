-- PostgreSQL.

-- What changed on this service's side, one row per change, written in the transaction that made
-- the change: reservation created or cancelled, member learned or deleted (as learned from its
-- event). GET /updates streams it. data is the update exactly as the stream sends it (JSON).
-- Ids come from change_log_head, never from an autoincrement: see db/changes.rs.
CREATE TABLE change_log (
    id           BIGINT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    data         TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);

CREATE INDEX change_log_by_member ON change_log (member_id, id);

-- The last id given out. Writers take ids by updating this one row, which locks it until they
-- commit: ids are handed out in commit order.
CREATE TABLE change_log_head (
    singleton  BIGINT PRIMARY KEY NOT NULL CHECK (singleton = 1),
    last_id    BIGINT NOT NULL
);

INSERT INTO change_log_head (singleton, last_id) VALUES (1, 0);
