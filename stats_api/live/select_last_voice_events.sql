SELECT user_id, (extract(epoch FROM max(ts)) * 1000)::bigint
FROM events
WHERE guild_id = %s AND type = {voice} AND user_id IS NOT NULL
  AND ts >= %s AND ts < %s
GROUP BY user_id
