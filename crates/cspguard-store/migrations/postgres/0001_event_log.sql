-- The append-only event log, the imports that fed it, and the derived tables the detectors and views query.
-- Never edit a landed migration: add a new one.

CREATE TABLE sources (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    origin         TEXT    NOT NULL,              -- file path or api:<name>
    kind           TEXT    NOT NULL,              -- usage, signins, ... (the importer's name)
    started_us     BIGINT  NOT NULL,
    finished_us    BIGINT,
    read_count     BIGINT  NOT NULL DEFAULT 0,
    imported_count BIGINT  NOT NULL DEFAULT 0,
    duplicate_count BIGINT NOT NULL DEFAULT 0,
    rejected_count BIGINT  NOT NULL DEFAULT 0,
    outcome        TEXT                            -- ok | rejects | unusable: <reason> | failed: <reason>
);

CREATE TABLE events (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- order of arrival
    idem_key           BYTEA   NOT NULL UNIQUE,    -- 16 bytes, content-derived
    kind               TEXT    NOT NULL,
    customer_tenant_id TEXT,
    event_time_us      BIGINT  NOT NULL,           -- microseconds since the Unix epoch, UTC
    ingest_time_us     BIGINT  NOT NULL,
    source_id          BIGINT  NOT NULL REFERENCES sources(id),
    source_line        BIGINT,
    payload            TEXT    NOT NULL            -- the domain event as JSON
);
-- No secondary index on events yet: every index costs each import (measured: a (customer, time) index added 8 s per
-- million events). Readers replay by seq; per-customer queries use the derived tables. Add indexes with the queries
-- that need them.

-- Cost per Azure subscription x day x meter category x region; money in millionths of the currency unit.
CREATE TABLE usage_daily_meter (
    azure_subscription_id TEXT   NOT NULL,
    usage_date            TEXT   NOT NULL,         -- YYYY-MM-DD
    meter_category        TEXT   NOT NULL,
    region                TEXT   NOT NULL,
    currency              TEXT   NOT NULL,
    customer_tenant_id    TEXT   NOT NULL,
    cost_micros           BIGINT NOT NULL,
    line_count            BIGINT NOT NULL,
    PRIMARY KEY (azure_subscription_id, usage_date, meter_category, region, currency)
);
CREATE INDEX usage_daily_meter_customer ON usage_daily_meter (customer_tenant_id, usage_date);

-- Cost per resource x day.
CREATE TABLE usage_daily_resource (
    resource_id           TEXT   NOT NULL,
    usage_date            TEXT   NOT NULL,
    currency              TEXT   NOT NULL,
    azure_subscription_id TEXT   NOT NULL,
    customer_tenant_id    TEXT   NOT NULL,
    cost_micros           BIGINT NOT NULL,
    line_count            BIGINT NOT NULL,
    PRIMARY KEY (resource_id, usage_date, currency)
);
CREATE INDEX usage_daily_resource_sub ON usage_daily_resource (azure_subscription_id, usage_date);

-- Which customer each Azure subscription belongs to (learned from usage, activity logs and fraud events).
CREATE TABLE azure_subscriptions (
    azure_subscription_id TEXT PRIMARY KEY,
    customer_tenant_id    TEXT NOT NULL
);

-- Which customer each billing (Azure plan) subscription belongs to, learned from usage lines: Partner Center's
-- subscription pages do not name their customer.
CREATE TABLE billing_subscriptions (
    billing_subscription_id TEXT PRIMARY KEY,
    customer_tenant_id      TEXT NOT NULL
);

-- The latest known profile of each customer, merged from every source that describes it.
CREATE TABLE customers (
    tenant_id          TEXT PRIMARY KEY,
    name               TEXT,
    domain             TEXT,
    country            TEXT,
    reseller_mpn_id    TEXT,
    updated_us         BIGINT NOT NULL
);
