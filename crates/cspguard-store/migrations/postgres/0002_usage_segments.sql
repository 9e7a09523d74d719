-- Bulk layout for usage lines (see ARCHITECTURE.md, "Import performance").
--
-- * One position space for the whole log: `log_head.next_seq` is the next free position. Writers take it under their
--   write lock (the row lock of `log_head`) and give the events they store explicit positions, whether an event goes
--   to `events` (one JSON row) or to `event_segments` (many usage lines in one compact row). Readers merge both tables
--   by position. Positions are therefore committed in order: a reader never sees position n + 1 before n.
-- * Usage lines are stored in segments: `first_seq..=last_seq` are their positions, contiguous; `body` is the binary
--   encoding described in crates/cspguard-store/src/segment.rs.
-- * Usage idempotency keys live in `usage_keys`, clustered by customer and event time (both are part of the key's
--   content, so equal keys have equal prefixes).

ALTER TABLE events ALTER COLUMN seq DROP IDENTITY IF EXISTS;

CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq BIGINT NOT NULL
);
INSERT INTO log_head (id, next_seq) SELECT 1, COALESCE(MAX(seq), 0) + 1 FROM events;

CREATE TABLE event_segments (
    last_seq       BIGINT PRIMARY KEY,
    first_seq      BIGINT NOT NULL,
    kind           TEXT   NOT NULL,
    source_id      BIGINT NOT NULL REFERENCES sources(id),
    ingest_time_us BIGINT NOT NULL,
    event_count    BIGINT NOT NULL,
    body           BYTEA  NOT NULL
);

CREATE TABLE usage_keys (
    scope         BYTEA  NOT NULL,   -- first 8 bytes of the customer tenant GUID: clusters an import's keys
    event_time_us BIGINT NOT NULL,
    idem_key      BYTEA  NOT NULL,
    batch         BIGINT NOT NULL,   -- log_head.next_seq when its append began: tells an append's own keys apart
    PRIMARY KEY (scope, event_time_us, idem_key)
);
INSERT INTO usage_keys (scope, event_time_us, idem_key, batch)
SELECT decode(substr(replace(customer_tenant_id, '-', ''), 1, 16), 'hex'), event_time_us, idem_key, 0 FROM events WHERE kind = 'usage';
