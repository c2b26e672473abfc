-- What replays the guild's voice for one span from its checkpoint (see
-- stats_platform/storage/select_latest_checkpoints.sql): the sessions open at the checkpoint
-- (source 0) and the voice events from it to the span's end (source 1), tagged with the
-- replay's index. One branch per replay, joined with UNION ALL and its values written in, as
-- select_span_events.sql explains.
SELECT {replay}::bigint, 0::bigint, user_id, channel_id,
       (extract(epoch FROM started_at) * 1000)::bigint, NULL::bigint
FROM voice_checkpoints
WHERE guild_id = {guild_id} AND at = {checkpoint}
UNION ALL
SELECT {replay}::bigint, 1::bigint, user_id, channel_id,
       (extract(epoch FROM ts) * 1000)::bigint, seq
FROM events
WHERE guild_id = {guild_id} AND type = {voice_type} AND user_id IS NOT NULL
  AND ts >= {checkpoint} AND ts < {end}
