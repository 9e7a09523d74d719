-- Cases, actions, the audit log and sync cursors.

-- One row per case; body is the case as JSON (the documented contract), the other columns serve filters.
CREATE TABLE cases (
    id                 TEXT   PRIMARY KEY,
    customer_tenant_id TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    severity           TEXT   NOT NULL,
    score              BIGINT NOT NULL,
    opened_us          BIGINT NOT NULL,
    updated_us         BIGINT NOT NULL,
    body               TEXT   NOT NULL
);
CREATE INDEX cases_customer ON cases (customer_tenant_id);
CREATE INDEX cases_status ON cases (status, opened_us);

-- One row per action key: planning the same action twice adds nothing. updated_us is the optimistic-concurrency
-- token: an update names the version it read, so two executors never both claim an action.
CREATE TABLE actions (
    action_key      TEXT   PRIMARY KEY,
    case_id         TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    next_attempt_us BIGINT,
    created_us      BIGINT NOT NULL,
    updated_us      BIGINT NOT NULL,
    body            TEXT   NOT NULL
);
CREATE INDEX actions_case ON actions (case_id);
CREATE INDEX actions_state ON actions (state, next_attempt_us);

-- Who did what to which case or action, and why. Append-only: the triggers refuse any change or deletion.
CREATE TABLE audit_log (
    seq        BIGSERIAL PRIMARY KEY,
    at_us      BIGINT NOT NULL,
    actor      TEXT   NOT NULL,
    verb       TEXT   NOT NULL,
    case_id    TEXT,
    action_key TEXT,
    detail     TEXT   NOT NULL
);
CREATE INDEX audit_case ON audit_log (case_id, seq);

-- Where each pull from an external API stopped, so the next run resumes there.
CREATE TABLE sync_cursors (
    name       TEXT   PRIMARY KEY,
    cursor     TEXT   NOT NULL,
    updated_us BIGINT NOT NULL
);

-- A case's timeline reads a customer's events in a time window. Usage lines live in segments and are not in this
-- table, so the index costs only the (far fewer) other events.
CREATE INDEX events_customer_time ON events (customer_tenant_id, event_time_us);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
