-- The braced name is the instant, formatted in as the source reads it best
-- (warehouse.statement formats comments too, so none is spelt here).
SELECT guild_id, user_id, channel_id, {ts}, seq
FROM events
WHERE type = %(voice_type)s
  AND user_id IS NOT NULL
  AND (%(start)s::timestamptz IS NULL OR ts >= %(start)s::timestamptz)
  AND ts < %(end)s
  AND (%(received_before)s::timestamptz IS NULL OR received_at < %(received_before)s::timestamptz)
  AND (%(all_guilds)s OR guild_id = ANY(%(guild_ids)s))
