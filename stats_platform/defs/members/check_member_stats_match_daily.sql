WITH daily AS (
    SELECT guild_id, user_id,
           sum(messages) AS total_messages, sum(voice_ms) AS total_voice_ms,
           sum(reactions_given) AS total_reactions_given, sum(reactions_received) AS total_reactions_received
    FROM member_activity
    WHERE period_type = 'daily'
    GROUP BY guild_id, user_id
)
SELECT count(*) FILTER (WHERE
           (d.total_messages, d.total_voice_ms, d.total_reactions_given, d.total_reactions_received)
           IS DISTINCT FROM
           (m.total_messages, m.total_voice_ms, m.total_reactions_given, m.total_reactions_received)),
       count(*)
FROM daily d FULL JOIN member_stats m USING (guild_id, user_id)
