-- The batch's landing table: one per session, reused by every request, emptied at each commit.
-- A temp table created per request would churn the catalog on the hot path.
CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
    ord         integer NOT NULL,  -- position in the request: the arrival order within a batch
    ts          timestamptz NOT NULL,
    guild_id    text COLLATE "C" NOT NULL,
    dedup_key   text COLLATE "C" NOT NULL,
    event_id    text,
    type        text NOT NULL,
    user_id     text,
    channel_id  text,
    message_id  text,
    role_id     text,
    shard_id    integer,
    data        text
) ON COMMIT DELETE ROWS
