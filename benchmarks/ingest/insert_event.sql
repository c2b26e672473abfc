-- The seed design's per-event insert, with the ingest endpoint's columns.
INSERT INTO events (ts, guild_id, dedup_key, event_id, type, user_id, channel_id, message_id, role_id, shard_id, data)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
