-- Distinct members per guild and window who sent an event or spent time in voice.
SELECT guild_id, period_start, count(DISTINCT user_id) AS unique_active_users
FROM (SELECT guild_id, date_bin(%(every)s, ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS period_start, user_id
      FROM events WHERE ts >= %(start)s AND ts < %(end)s AND received_at < %(as_of)s AND user_id IS NOT NULL
      UNION ALL
      SELECT guild_id, period_start, user_id FROM bench_voice_windows WHERE voice_ms > 0) u
GROUP BY 1, 2
