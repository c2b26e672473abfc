-- metrics_snapshots rows from the per-type counts, voice and active members.
WITH by_type AS (
    SELECT guild_id, period_start, sum(n) AS total_events,
           coalesce(sum(n) FILTER (WHERE type = 'MESSAGE_CREATE'), 0) AS total_messages,
           coalesce(sum(n) FILTER (WHERE type = 'MESSAGE_REACTION_ADD'), 0) AS total_reactions,
           coalesce(sum(n) FILTER (WHERE type = 'GUILD_MEMBER_ADD'), 0) AS joins,
           coalesce(sum(n) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE'), 0) AS leaves,
           '{"by_type":{' || string_agg(format('"%%s":%%s', type, n), ',' ORDER BY type COLLATE "C")
             || '}}' AS data
    FROM bench_type_counts GROUP BY 1, 2
), voice AS (
    SELECT guild_id, period_start, sum(voice_ms) AS voice_ms FROM bench_voice_windows GROUP BY 1, 2
)
SELECT guild_id, period_start, period_start + %(every)s AS period_end,
       coalesce(b.total_events, 0) AS total_events,
       coalesce(b.total_messages, 0) AS total_messages,
       coalesce(b.total_reactions, 0) AS total_reactions,
       coalesce(v.voice_ms, 0) AS voice_ms,
       coalesce(a.unique_active_users, 0) AS unique_active_users,
       coalesce(b.joins, 0) AS joins, coalesce(b.leaves, 0) AS leaves,
       coalesce(b.data, '{"by_type":{}}') AS data
FROM by_type b
FULL JOIN voice v USING (guild_id, period_start)
FULL JOIN bench_active_users a USING (guild_id, period_start)
