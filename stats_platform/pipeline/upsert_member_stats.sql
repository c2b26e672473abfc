INSERT INTO member_stats AS m (
    guild_id, user_id, total_messages, total_voice_ms, total_reactions_given,
    total_reactions_received, last_message_at, last_voice_at, last_seen, joined_at, updated_at)
SELECT guild_id, user_id, total_messages, total_voice_ms, total_reactions_given,
       total_reactions_received, last_message_at, last_voice_at, last_seen, joined_at, now()
FROM member_stats_stage
ON CONFLICT (guild_id, user_id) DO UPDATE
SET total_messages = EXCLUDED.total_messages,
    total_voice_ms = EXCLUDED.total_voice_ms,
    total_reactions_given = EXCLUDED.total_reactions_given,
    total_reactions_received = EXCLUDED.total_reactions_received,
    last_message_at = EXCLUDED.last_message_at,
    last_voice_at = EXCLUDED.last_voice_at,
    last_seen = EXCLUDED.last_seen,
    joined_at = EXCLUDED.joined_at,
    updated_at = EXCLUDED.updated_at
