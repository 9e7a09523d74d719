-- How the store derives usage lines' idempotency keys (cspguard_domain::UsageKeyVersion): 1 = BLAKE3, 2 = XXH3-128.
-- A store that already holds usage keys keeps version 1 for ever (the keys cannot be recomputed from stored lines, and
-- keys of two versions never match, so a re-import would store its lines twice); every other store starts on 2.
ALTER TABLE log_head ADD COLUMN usage_key_version BIGINT NOT NULL DEFAULT 1;
UPDATE log_head SET usage_key_version = 2 WHERE NOT EXISTS (SELECT 1 FROM usage_keys);
