-- The read model: each window's member rows as one columnar block per guild (issue: answers whose
-- cost follows the question, not the member count). Arrow IPC stream bytes, written and read by
-- stats_platform/storage/blocks.py; the data step of this migration builds them from
-- member_activity and removes the 5-minute and hourly member rows (daily rows stay: member_stats
-- is summed from them).
CREATE TABLE member_blocks (
    guild_id      text COLLATE "C" NOT NULL,
    period_type   text NOT NULL
                  CHECK (period_type IN ('5min', 'hourly', 'daily', '2d', '4d', '8d', '16d', '32d')),
    period_start  timestamptz NOT NULL,
    members       integer NOT NULL,   -- rows in the block
    block         bytea NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, period_type, period_start)
);
CREATE INDEX member_blocks_type_start ON member_blocks (period_type, period_start);
-- Blocks are compressed by Arrow (zstd) or small: PostgreSQL's own pglz compression would only
-- cost time on every read.
ALTER TABLE member_blocks ALTER COLUMN block SET STORAGE EXTERNAL;

-- Every guild's lifetime member rows (member_stats) as one block, rewritten with member_stats.
CREATE TABLE member_stats_blocks (
    guild_id    text COLLATE "C" PRIMARY KEY,
    members     integer NOT NULL,
    block       bytea NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE member_stats_blocks ALTER COLUMN block SET STORAGE EXTERNAL;
