-- The seed design's per-event counter update: one upsert per event that names a user.
INSERT INTO member_stats AS m (guild_id, user_id, total_messages, total_reactions_given, last_message_at, last_seen)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (guild_id, user_id) DO UPDATE SET
    total_messages = m.total_messages + EXCLUDED.total_messages,
    total_reactions_given = m.total_reactions_given + EXCLUDED.total_reactions_given,
    last_message_at = greatest(m.last_message_at, EXCLUDED.last_message_at),
    last_seen = greatest(m.last_seen, EXCLUDED.last_seen),
    updated_at = now()
