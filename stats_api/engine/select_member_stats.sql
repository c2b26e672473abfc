SELECT user_id, total_messages, total_voice_ms, total_reactions_given, total_reactions_received,
       (extract(epoch FROM last_message_at) * 1000)::bigint,
       (extract(epoch FROM last_voice_at) * 1000)::bigint,
       (extract(epoch FROM last_seen) * 1000)::bigint,
       (extract(epoch FROM joined_at) * 1000)::bigint
FROM member_stats
WHERE guild_id = %(guild_id)s
