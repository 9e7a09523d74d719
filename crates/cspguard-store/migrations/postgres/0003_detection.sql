-- Detection: the detectors' checkpoint (state and position in the log) and the alerts they raised.

-- One row per detection pipeline (today: "default"). The state is the engine's serialised state; last_seq is the last
-- event it has evaluated, so the next scan starts after it.
CREATE TABLE detector_checkpoints (
    name         TEXT   PRIMARY KEY,
    last_seq     BIGINT NOT NULL,
    watermark_us BIGINT,
    state        TEXT   NOT NULL,
    updated_us   BIGINT NOT NULL
);

-- Alerts, one row each, updated in place as an incident's evidence grows (the alert's id is stable). body is the
-- alert as JSON (the documented contract); the other columns serve filters and ordering.
CREATE TABLE alerts (
    id                 TEXT   PRIMARY KEY,
    customer_tenant_id TEXT   NOT NULL,
    kind               TEXT   NOT NULL,
    severity           TEXT   NOT NULL,
    score              BIGINT NOT NULL,
    origin             TEXT   NOT NULL,
    fired_us           BIGINT NOT NULL,
    updated_us         BIGINT NOT NULL,
    body               TEXT   NOT NULL
);
CREATE INDEX alerts_customer ON alerts (customer_tenant_id, fired_us);
CREATE INDEX alerts_fired ON alerts (fired_us);
