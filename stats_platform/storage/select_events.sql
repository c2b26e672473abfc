SELECT seq,
       (extract(epoch FROM ts) * 1000)::bigint,
       (extract(epoch FROM received_at) * 1000)::bigint,
       guild_id, type, user_id, channel_id,
       data ->> 'messageAuthorId'
FROM events
WHERE ts >= %(start)s AND ts < %(end)s
  AND (%(received_before)s::timestamptz IS NULL OR received_at < %(received_before)s::timestamptz)
  AND (%(all_guilds)s OR guild_id = ANY(%(guild_ids)s))
