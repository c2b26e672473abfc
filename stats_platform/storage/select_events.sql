-- The braced names are the instants, formatted in as the source reads them best
-- (warehouse.statement formats comments too, so none is spelt here).
-- Only a reaction's author is counted (reactions received), so no other event's jsonb is opened.
SELECT seq, {ts}, {received_at},
       guild_id, type, user_id, channel_id,
       CASE WHEN type = %(reaction_type)s THEN data ->> 'messageAuthorId' END
FROM events
WHERE ts >= %(start)s AND ts < %(end)s
  AND (%(received_before)s::timestamptz IS NULL OR received_at < %(received_before)s::timestamptz)
  AND (%(all_guilds)s OR guild_id = ANY(%(guild_ids)s))
