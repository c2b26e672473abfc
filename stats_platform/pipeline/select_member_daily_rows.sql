-- Every daily row of every member with a daily row in the range: lifetime totals need them all.
SELECT a.guild_id, a.user_id, a.events, a.messages, a.reactions_given, a.reactions_received, a.voice_ms,
       a.joins, a.leaves,
       (extract(epoch FROM a.first_join_at) * 1000)::bigint,
       (extract(epoch FROM a.last_message_at) * 1000)::bigint,
       (extract(epoch FROM a.last_voice_at) * 1000)::bigint,
       (extract(epoch FROM a.last_seen) * 1000)::bigint
FROM member_activity a
JOIN (SELECT DISTINCT guild_id, user_id FROM member_activity
      WHERE period_type = 'daily' AND period_start >= %(start)s AND period_start < %(end)s) touched
  USING (guild_id, user_id)
WHERE a.period_type = 'daily'
