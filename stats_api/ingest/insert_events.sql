-- Moves the staged batch into events, skipping rows already stored (same guild, key and
-- timestamp), and records the arrival in every window the new rows fall in: that is how the
-- pipeline learns a computed window has late events. Duplicates touch no window.
-- Answers the count of new rows, their voice changes in replay order (ts, seq) for the live
-- voice hash, the arrival time (epoch µs) they were recorded with, and per guild and type the
-- new rows and the staged ones, [guild, type, new, valid] (live push and metrics: the valid rows
-- that are not new are duplicates).
-- Parameters: the grains' names and lengths (stats_platform.domain.grains), the epoch their
-- windows are aligned to, and the voice event type.
WITH staged AS MATERIALIZED (
    -- seq is arrival order (voice replay breaks timestamp ties with it), so it is drawn in the
    -- order the events came in, before the rows are re-sorted for locking below.
    SELECT nextval((SELECT pg_get_serial_sequence('events', 'seq'))::regclass) AS seq, s.*
    FROM (SELECT * FROM ingest_staging ORDER BY ord) AS s
),
inserted AS (
    INSERT INTO events (
        seq, ts, guild_id, dedup_key, event_id, type,
        user_id, channel_id, message_id, role_id, shard_id, data
    )
    SELECT seq, ts, guild_id, dedup_key, event_id, type,
           user_id, channel_id, message_id, role_id, shard_id, data::jsonb
    FROM staged
    -- One lock order for every batch (the unique key's): concurrent batches sharing rows wait,
    -- never deadlock.
    ORDER BY guild_id, ts, dedup_key
    ON CONFLICT (guild_id, ts, dedup_key) DO NOTHING
    RETURNING guild_id, ts, type, seq, user_id, channel_id
),
windows AS (
    SELECT inserted.guild_id, w.period_type, w.period_start,
           bool_or(inserted.type = %(voice_type)s) AS voice
    FROM inserted
    CROSS JOIN LATERAL (
        SELECT g.name, date_bin(g.length, inserted.ts, %(epoch)s::timestamptz)
        FROM unnest(%(grain_names)s::text[], %(grain_lengths)s::interval[]) AS g (name, length)
    ) AS w (period_type, period_start)
    GROUP BY inserted.guild_id, w.period_type, w.period_start
),
arrivals AS (
    INSERT INTO window_arrivals AS a (
        guild_id, period_type, period_start, last_received_at, last_voice_received_at
    )
    SELECT guild_id, period_type, period_start, now(), CASE WHEN voice THEN now() END
    FROM windows
    ORDER BY guild_id, period_type, period_start
    ON CONFLICT (guild_id, period_type, period_start) DO UPDATE SET
        last_received_at = GREATEST(a.last_received_at, EXCLUDED.last_received_at),
        last_voice_received_at = GREATEST(a.last_voice_received_at, EXCLUDED.last_voice_received_at)
)
SELECT count(*),
       coalesce(
           json_agg(json_build_array(guild_id, user_id, channel_id,
                                     (extract(epoch FROM ts) * 1000)::bigint) ORDER BY ts, seq)
               FILTER (WHERE type = %(voice_type)s AND user_id IS NOT NULL),
           '[]'::json),
       (extract(epoch FROM now()) * 1000000)::bigint,
       (SELECT coalesce(json_agg(json_build_array(v.guild_id, v.type, coalesce(n.new, 0), v.valid)),
                        '[]'::json)
        FROM (SELECT guild_id, type, count(*) AS valid FROM staged GROUP BY guild_id, type) AS v
        LEFT JOIN (SELECT guild_id, type, count(*) AS new FROM inserted GROUP BY guild_id, type) AS n
          USING (guild_id, type))
FROM inserted
