-- Sessions cut into windows of the grain: voice ms and last voice instant per member and window.
WITH spans AS (
    SELECT guild_id, user_id, greatest(started_at, %(start)s) AS begin_at,
           least(coalesce(ended_at, started_at + %(cap)s), %(as_of)s, %(end)s) AS finish_at
    FROM bench_sessions
), pieces AS (
    SELECT guild_id, user_id, w AS period_start,
           least(finish_at, w + %(every)s) AS piece_end, greatest(begin_at, w) AS piece_start
    FROM spans, generate_series(date_bin(%(every)s, begin_at, TIMESTAMPTZ '1970-01-01 00:00:00+00'),
                                finish_at - INTERVAL '1 millisecond', %(every)s) AS w
    WHERE finish_at > begin_at
)
SELECT guild_id, user_id, period_start,
       sum(extract(epoch FROM piece_end - piece_start) * 1000)::bigint AS voice_ms,
       max(piece_end) AS last_voice_at
FROM pieces GROUP BY 1, 2, 3
