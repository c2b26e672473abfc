-- What the pipeline computes from the raw events and the stats API reads.

-- One row per guild and window with any activity; a computed window with no row for a guild
-- means that guild had no activity in it (computed_windows says which windows are computed).
CREATE TABLE metrics_snapshots (
    guild_id             text COLLATE "C" NOT NULL,
    period_type          text NOT NULL CHECK (period_type IN ('5min', 'hourly', 'daily')),
    period_start         timestamptz NOT NULL,
    period_end           timestamptz NOT NULL,
    total_events         bigint NOT NULL,
    total_messages       bigint NOT NULL,
    total_reactions      bigint NOT NULL,
    voice_ms             bigint NOT NULL,     -- voice overlap in milliseconds (exact; minutes = floor(ms / 60000))
    unique_active_users  integer NOT NULL,
    joins                integer NOT NULL,
    leaves               integer NOT NULL,
    data                 jsonb NOT NULL DEFAULT '{}',  -- {"by_type": {"MESSAGE_CREATE": n, ...}}
    computed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, period_type, period_start)
);
CREATE INDEX metrics_snapshots_type_start ON metrics_snapshots (period_type, period_start);

-- Per-member activity in one window: what lets the API count distinct users and rank members
-- over any window without the raw events. Daily rows are kept for ever (member_stats sums them).
CREATE TABLE member_activity (
    guild_id            text COLLATE "C" NOT NULL,
    period_type         text NOT NULL CHECK (period_type IN ('5min', 'hourly', 'daily')),
    period_start        timestamptz NOT NULL,
    user_id             text COLLATE "C" NOT NULL,
    events              integer NOT NULL,   -- events with this userId (any type): makes the user active
    messages            integer NOT NULL,
    reactions_given     integer NOT NULL,
    reactions_received  integer NOT NULL,
    voice_ms            bigint NOT NULL,
    joins               integer NOT NULL,
    leaves              integer NOT NULL,
    first_join_at       timestamptz,
    last_message_at     timestamptz,
    last_voice_at       timestamptz,
    last_seen           timestamptz,
    PRIMARY KEY (guild_id, period_type, period_start, user_id)
);
CREATE INDEX member_activity_type_start ON member_activity (period_type, period_start);

-- Lifetime totals per member: the sum of their daily member_activity rows.
CREATE TABLE member_stats (
    guild_id                text COLLATE "C" NOT NULL,
    user_id                 text COLLATE "C" NOT NULL,
    total_messages          bigint NOT NULL DEFAULT 0,
    total_voice_ms          bigint NOT NULL DEFAULT 0,
    total_reactions_given   bigint NOT NULL DEFAULT 0,
    total_reactions_received bigint NOT NULL DEFAULT 0,
    last_message_at         timestamptz,
    last_voice_at           timestamptz,
    last_seen               timestamptz,
    joined_at               timestamptz,
    updated_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, user_id)
);

-- Which windows the pipeline has computed, and up to which arrival time: a window's rows count
-- exactly the events with received_at < covered_until.
CREATE TABLE computed_windows (
    period_type    text NOT NULL CHECK (period_type IN ('5min', 'hourly', 'daily')),
    period_start   timestamptz NOT NULL,
    period_end     timestamptz NOT NULL,
    covered_until  timestamptz NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (period_type, period_start)
);

-- Newest arrival per guild and window, kept by the ingestion path: a window whose newest
-- arrival is at or after its covered_until has late events the pipeline has not folded in yet.
CREATE TABLE window_arrivals (
    guild_id                text COLLATE "C" NOT NULL,
    period_type             text NOT NULL CHECK (period_type IN ('5min', 'hourly', 'daily')),
    period_start            timestamptz NOT NULL,
    last_received_at        timestamptz NOT NULL,
    last_voice_received_at  timestamptz,
    PRIMARY KEY (guild_id, period_type, period_start)
);
CREATE INDEX window_arrivals_last_received ON window_arrivals (last_received_at);

-- Voice sessions rebuilt from VOICE_STATE_UPDATE events (SPEC §2). ended_at is null while open.
CREATE TABLE voice_sessions (
    guild_id    text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    started_at  timestamptz NOT NULL,
    channel_id  text COLLATE "C" NOT NULL,
    ended_at    timestamptz,
    end_reason  text CHECK (end_reason IN ('leave', 'move', 'cap')),
    PRIMARY KEY (guild_id, user_id, started_at)
);
CREATE INDEX voice_sessions_guild_started ON voice_sessions (guild_id, started_at);

-- Sessions open at each UTC midnight, so voice can be replayed from a day's start without
-- reading older events. A marker row exists for every computed midnight, even with none open.
-- A checkpoint is a cache: readers skip one that a later-arriving voice event before it has
-- invalidated (window_arrivals.last_voice_received_at >= covered_until) and replay from further back.
CREATE TABLE voice_checkpoints (
    at          timestamptz NOT NULL,
    guild_id    text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    channel_id  text COLLATE "C" NOT NULL,
    started_at  timestamptz NOT NULL,
    PRIMARY KEY (at, guild_id, user_id)
);
CREATE TABLE voice_checkpoint_marks (
    at             timestamptz PRIMARY KEY,
    covered_until  timestamptz NOT NULL,
    computed_at    timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF stats_storage_mode() = 'timescaledb' THEN
        PERFORM create_hypertable('metrics_snapshots', by_range('period_start', INTERVAL '7 days'));
        PERFORM create_hypertable('member_activity', by_range('period_start', INTERVAL '7 days'));
    END IF;
END $$;
