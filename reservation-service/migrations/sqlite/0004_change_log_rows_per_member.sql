-- SQLite.

-- The change log written one row per member per transaction instead of one row per change: a
-- row holds the contiguous ids first_id..=last_id its changes took from change_log_head (taken
-- as before, so ids still follow commit order) and the changes as a JSON array in id order,
-- each the update exactly as the stream sends it (with its own id and type). See
-- db/changes.rs.
--
-- Rows already written become rows of one change each (first_id = last_id = id): a client
-- resuming with the id of an old change reads on from it as before. change_log_head is kept
-- as it is.
CREATE TABLE change_log_rows (
    first_id     INTEGER PRIMARY KEY NOT NULL,
    last_id      BIGINT NOT NULL,
    member_id    TEXT NOT NULL,
    changes      TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    CONSTRAINT change_log_ids_in_order CHECK (first_id <= last_id)
);

INSERT INTO change_log_rows (first_id, last_id, member_id, changes, recorded_at)
SELECT id, id, member_id, '[' || data || ']', recorded_at FROM change_log;

DROP TABLE change_log;
ALTER TABLE change_log_rows RENAME TO change_log;

-- Readers look for rows with last_id past the id they saw; ranges never overlap, so last_id
-- order is also first_id order.
CREATE UNIQUE INDEX change_log_by_last_id ON change_log (last_id);
CREATE INDEX change_log_by_member ON change_log (member_id, last_id);
