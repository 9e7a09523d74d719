-- The events of a stretch of `events` rows (every kind but usage, which has its segments) in the compact binary
-- encoding of `compact.rs`, written with the rows in the same transaction: `cspguard scan` reads these instead of the
-- rows' JSON. A block holds every row of `events` whose position is in first_seq..=last_seq (positions between are
-- usage segments). Derived from the rows: a block of an encoding version the reader does not know is ignored and its
-- rows read as JSON, as are rows stored before this migration (which have no block).
CREATE TABLE event_blocks (
    last_seq       BIGINT PRIMARY KEY,
    first_seq      BIGINT NOT NULL,
    version        BIGINT NOT NULL,
    source_id      BIGINT NOT NULL REFERENCES sources(id),
    ingest_time_us BIGINT NOT NULL,
    event_count    BIGINT NOT NULL,
    body           BYTEA  NOT NULL
);

-- Rows from this position on all have their block (rows before it were stored before blocks existed).
ALTER TABLE log_head ADD COLUMN blocks_from BIGINT NOT NULL DEFAULT 0;
UPDATE log_head SET blocks_from = next_seq;
