-- Whole-request idempotency of POST /v1/events: the first 202 answer given to an
-- Idempotency-Key, written in the same transaction as the batch's events, so no answer is
-- acknowledged without its record and no record exists without its events. Kept 24 hours.
CREATE TABLE ingest_idempotency (
    key_id           text COLLATE "C" NOT NULL,  -- the API key's id; '' with STATS_AUTH=off
    idempotency_key  text COLLATE "C" NOT NULL,
    body_sha256      bytea NOT NULL,             -- of the decoded body
    answer           jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, idempotency_key)
);
CREATE INDEX ingest_idempotency_created_at ON ingest_idempotency (created_at);
