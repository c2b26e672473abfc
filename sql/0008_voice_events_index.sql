-- migration: no-transaction
-- Voice events of one guild over a time range, from the index alone: the stats API replays them
-- from the latest checkpoint for every raw tail, and voice/live's rebuild of its Redis hash reads
-- every member's last voice event of the past 24 hours; over (type, ts) both visited every
-- guild's voice rows in the heap (docs/benchmarks.md, Voice live: a rebuild). Only voice rows
-- pay its btree insert on ingest.
--
-- Built so that ingestion is never held up for long (docs/operations.md, Migrations): the
-- parent's index is created ON ONLY first (instant; every partition created from then on gets
-- its own with it), then one partition's index per transaction, attached to the parent, until
-- none is left, when the parent's index becomes valid. An insert waits at most for the build
-- of one day's partition. On TimescaleDB a hypertable takes no ON ONLY index: the index is
-- created whole, on the uncompressed chunks (compressed ones have their own columnar indexes).
CREATE OR REPLACE FUNCTION stats_index_voice_events() RETURNS SETOF integer
LANGUAGE plpgsql AS $$
DECLARE
    columns constant text := '(guild_id, ts) INCLUDE (user_id, channel_id, seq)'
        || ' WHERE type = ''VOICE_STATE_UPDATE''';
    part regclass;
BEGIN
    IF to_regclass('events_voice_guild_ts') IS NULL THEN
        IF stats_storage_mode() = 'timescaledb' THEN
            EXECUTE 'CREATE INDEX events_voice_guild_ts ON events ' || columns;
        ELSE
            EXECUTE 'CREATE INDEX events_voice_guild_ts ON ONLY events ' || columns;
        END IF;
        RETURN NEXT 1;
        RETURN;
    END IF;
    IF stats_storage_mode() = 'timescaledb' THEN
        RETURN;
    END IF;
    -- The oldest partition whose index is not attached to the parent's yet.
    SELECT i.inhrelid INTO part
    FROM pg_inherits i
    WHERE i.inhparent = 'events'::regclass
      AND NOT EXISTS (
          SELECT 1 FROM pg_inherits x JOIN pg_index ix ON ix.indexrelid = x.inhrelid
          WHERE x.inhparent = 'events_voice_guild_ts'::regclass AND ix.indrelid = i.inhrelid)
    ORDER BY i.inhrelid::regclass::text
    LIMIT 1;
    IF part IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s ', part::text || '_voice_guild_ts', part)
        || columns;
    EXECUTE format('ALTER INDEX events_voice_guild_ts ATTACH PARTITION %I',
                   part::text || '_voice_guild_ts');
    RETURN NEXT 1;
END $$;
-- step: repeat
SELECT * FROM stats_index_voice_events();
-- step
DROP FUNCTION stats_index_voice_events();
