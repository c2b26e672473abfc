-- Events per guild, window and type.
SELECT guild_id, date_bin(%(every)s, ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS period_start, type, count(*) AS n
FROM events WHERE ts >= %(start)s AND ts < %(end)s AND received_at < %(as_of)s
GROUP BY 1, 2, 3
