-- Row-level security, the last line of defence of tenancy: the stats reads run as stats_reader
-- (stats_platform/storage/tenant.py, inside each read transaction), which sees only the rows of
-- the guild named by the transaction's `stats.guild_id`. A read that forgets its guild filter
-- then returns nothing of another guild. The owner (migrations, ingestion, the pipeline) is
-- not subject to these policies. Every guild-keyed table needs its policy: a new one gets it in
-- the migration that creates it.

-- The role belongs to the server, not the database: several databases on one server (tests,
-- the dagster database beside) share it, and two migrations may race to create it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'stats_reader') THEN
        CREATE ROLE stats_reader NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END $$;

-- A non-superuser owner must be a member to `SET ROLE stats_reader`.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT stats_reader TO %I', current_user);
    END IF;
END $$;

DO $$
DECLARE
    guild_keyed text[] := ARRAY['events', 'metrics_snapshots', 'member_activity', 'member_blocks',
                                'member_stats', 'member_stats_blocks',
                                'window_arrivals', 'voice_sessions', 'voice_checkpoints'];
    t text;
BEGIN
    FOREACH t IN ARRAY guild_keyed LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I FOR SELECT TO stats_reader'
            ' USING (guild_id = current_setting(''stats.guild_id'', true))',
            t || '_one_guild', t);
        EXECUTE format('GRANT SELECT ON %I TO stats_reader', t);
    END LOOP;
END $$;

-- Tables without a guild: which windows are computed, and the voice checkpoint marks.
GRANT SELECT ON computed_windows, voice_checkpoint_marks, platform_settings TO stats_reader;
