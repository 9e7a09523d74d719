-- Microsoft's fraud-credit exception requests and onboarding screenings.

-- One row per request; body is the request as JSON (the contract is in cspguard-exception). Microsoft grants one
-- request per customer tenant ID, ever: the UNIQUE constraint keeps a second one out whatever the code does, and the
-- triggers keep a request from being deleted or moved to another tenant (which would free the tenant for another).
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
CREATE TRIGGER exception_requests_no_delete BEFORE DELETE ON exception_requests
BEGIN SELECT RAISE(ABORT, 'exception requests are kept forever: one per customer tenant ID, ever'); END;
CREATE TRIGGER exception_requests_keep_tenant BEFORE UPDATE OF customer_tenant_id ON exception_requests
WHEN NEW.customer_tenant_id <> OLD.customer_tenant_id
BEGIN SELECT RAISE(ABORT, 'an exception request cannot move to another customer tenant'); END;

-- The latest onboarding screening of each customer (screened once; re-screened on demand).
CREATE TABLE screenings (
    customer_tenant_id TEXT   PRIMARY KEY,
    score              BIGINT NOT NULL,
    screened_us        BIGINT NOT NULL,
    body               TEXT   NOT NULL
);
