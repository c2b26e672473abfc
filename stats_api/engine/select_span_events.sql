-- The guild's events in one raw span, tagged with the span's bucket. The engine joins one such
-- branch per span with UNION ALL, its values written in (psycopg.sql.Literal): constant bounds
-- let the planner prune the events partitions each branch cannot touch (a join over the spans
-- would plan every partition, 12 ms with 39 of them). Columns as
-- stats_platform/storage/select_events.sql read as CSV, then the bucket.
SELECT seq,
       (extract(epoch FROM ts) * 1000)::bigint,
       (extract(epoch FROM received_at) * 1000)::bigint,
       guild_id, type, user_id, channel_id,
       CASE WHEN type = {reaction_type} THEN data ->> 'messageAuthorId' END,
       {bucket}::bigint
FROM events
WHERE guild_id = {guild_id} AND ts >= {start} AND ts < {end}
