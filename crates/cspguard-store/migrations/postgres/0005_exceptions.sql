-- Microsoft's fraud-credit exception requests and onboarding screenings.

-- One row per request; body is the request as JSON (the contract is in cspguard-exception). Microsoft grants one
-- request per customer tenant ID, ever: the UNIQUE constraint keeps a second one out whatever the code does, and the
-- trigger keeps a request from being deleted or moved to another tenant (which would free the tenant for another).
CREATE TABLE exception_requests (
    id                 TEXT   PRIMARY KEY,
    customer_tenant_id TEXT   NOT NULL UNIQUE,
    case_id            TEXT   NOT NULL,
    status             TEXT   NOT NULL,
    created_us         BIGINT NOT NULL,
    updated_us         BIGINT NOT NULL,
    body               TEXT   NOT NULL
);
CREATE INDEX exception_requests_case ON exception_requests (case_id);

CREATE FUNCTION exception_requests_keep() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'exception requests are kept forever: one per customer tenant ID, ever';
    END IF;
    IF NEW.customer_tenant_id <> OLD.customer_tenant_id THEN
        RAISE EXCEPTION 'an exception request cannot move to another customer tenant';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER exception_requests_keep BEFORE UPDATE OR DELETE ON exception_requests
    FOR EACH ROW EXECUTE FUNCTION exception_requests_keep();

-- The latest onboarding screening of each customer (screened once; re-screened on demand).
CREATE TABLE screenings (
    customer_tenant_id TEXT   PRIMARY KEY,
    score              BIGINT NOT NULL,
    screened_us        BIGINT NOT NULL,
    body               TEXT   NOT NULL
);
