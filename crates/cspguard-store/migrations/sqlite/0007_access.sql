-- Who may use cspguard (users, API tokens, console sessions) and the audit log's hash chain.

-- Local users. password_hash is an argon2id PHC string; role is global_admin | user_management_admin | admin_agent |
-- billing_admin; reseller_mpn_id scopes the user to one indirect reseller's customers (NULL: partner-wide).
CREATE TABLE users (
    username        TEXT   PRIMARY KEY,
    password_hash   TEXT   NOT NULL,
    role            TEXT   NOT NULL,
    reseller_mpn_id TEXT,
    created_us      BIGINT NOT NULL,
    disabled        BIGINT NOT NULL DEFAULT 0
);

-- API tokens for automation, stored as SHA-256 of the token (the token itself is shown once).
CREATE TABLE api_tokens (
    token_hash TEXT   PRIMARY KEY,
    username   TEXT   NOT NULL REFERENCES users(username),
    name       TEXT   NOT NULL,
    created_us BIGINT NOT NULL
);

-- Console sessions, stored as SHA-256 of the cookie value.
CREATE TABLE sessions (
    session_hash TEXT   PRIMARY KEY,
    username     TEXT   NOT NULL REFERENCES users(username),
    expires_us   BIGINT NOT NULL
);

-- The audit log's hash chain: each entry's hash covers the previous hash and the entry; the head holds the last hash,
-- so an edited, inserted or removed entry (even the last) is detected by `cspguard audit verify`.
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE TABLE audit_head (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    hash    TEXT   NOT NULL,
    entries BIGINT NOT NULL
);
INSERT INTO audit_head (id, hash, entries) VALUES (1, '', 0);
