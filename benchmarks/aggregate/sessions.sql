-- Voice sessions rebuilt from raw events: runs of one channel per member in (ts, seq) order,
-- runs longer than the cap split recursively, each closed by a leave, a move or the cap.
-- The guild parameter NULL: every guild (the aggregate baseline); else one guild (the API baseline).
WITH RECURSIVE ev AS (
    SELECT guild_id, user_id, channel_id, ts, seq,
           channel_id IS NOT NULL
             AND channel_id IS DISTINCT FROM lag(channel_id) OVER w AS new_run
    FROM events
    WHERE type = 'VOICE_STATE_UPDATE' AND user_id IS NOT NULL
      AND (%(guild)s::text IS NULL OR guild_id = %(guild)s)
      AND ts < %(end)s AND received_at < %(as_of)s
    WINDOW w AS (PARTITION BY guild_id, user_id ORDER BY ts, seq)
), runs AS (
    SELECT *, sum(new_run::int) OVER (PARTITION BY guild_id, user_id ORDER BY ts, seq
                                      ROWS UNBOUNDED PRECEDING) AS run_no
    FROM ev
), bounds AS (
    SELECT *, min(ts) OVER r AS run_start, max(ts) OVER r AS run_end
    FROM runs
    WINDOW r AS (PARTITION BY guild_id, user_id, run_no, channel_id IS NULL)
), long_rows AS MATERIALIZED (
    SELECT guild_id, user_id, run_no, ts FROM bounds
    WHERE channel_id IS NOT NULL AND run_end >= run_start + %(cap)s
), splits (guild_id, user_id, run_no, started_at) AS (
    SELECT guild_id, user_id, run_no, min(ts) FROM long_rows GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.guild_id, s.user_id, s.run_no, n.ts
    FROM splits s CROSS JOIN LATERAL (
        SELECT min(l.ts) AS ts FROM long_rows l
        WHERE (l.guild_id, l.user_id, l.run_no) = (s.guild_id, s.user_id, s.run_no)
          AND l.ts >= s.started_at + %(cap)s) n
    WHERE n.ts IS NOT NULL
), started AS (
    SELECT b.*,
           CASE WHEN b.channel_id IS NULL THEN NULL
                WHEN b.run_end >= b.run_start + %(cap)s THEN (
                    SELECT max(s.started_at) FROM splits s
                    WHERE (s.guild_id, s.user_id, s.run_no) = (b.guild_id, b.user_id, b.run_no)
                      AND s.started_at <= b.ts)
                ELSE b.run_start END AS started_at
    FROM bounds b
), nexts AS (
    SELECT *, lead(true) OVER w AS has_next, lead(ts) OVER w AS next_ts,
           lead(channel_id) OVER w AS next_channel, lead(started_at) OVER w AS next_started
    FROM started
    WINDOW w AS (PARTITION BY guild_id, user_id ORDER BY ts, seq)
), closed AS (
    SELECT guild_id, user_id, channel_id, started_at,
           CASE WHEN has_next IS NULL THEN NULL
                WHEN next_channel = channel_id OR next_ts > started_at + %(cap)s
                    THEN started_at + %(cap)s
                ELSE next_ts END AS ended_at,
           CASE WHEN has_next IS NULL THEN NULL
                WHEN next_channel = channel_id OR next_ts > started_at + %(cap)s THEN 'cap'
                WHEN next_channel IS NULL THEN 'leave'
                ELSE 'move' END AS end_reason
    FROM nexts
    WHERE channel_id IS NOT NULL
      AND NOT coalesce(has_next AND next_channel = channel_id AND next_started = started_at,
                       false)
)
SELECT * FROM closed WHERE ended_at IS NULL OR ended_at > started_at
