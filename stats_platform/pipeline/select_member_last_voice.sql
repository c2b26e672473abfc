-- The latest voice instant of every member with a daily row in the range, from their sessions:
-- the session's end, its cap for one never closed, and never past the computation (as_of).
-- A daily row stops at its day's end; a session running past it still ends where it ends.
SELECT s.guild_id, s.user_id,
       (extract(epoch FROM max(LEAST(COALESCE(s.ended_at, s.started_at + %(cap)s::interval),
                                     %(as_of)s::timestamptz))) * 1000)::bigint
FROM voice_sessions s
JOIN (SELECT DISTINCT guild_id, user_id FROM member_activity
      WHERE period_type = %(grain)s AND period_start >= %(start)s AND period_start < %(end)s) touched
  USING (guild_id, user_id)
GROUP BY s.guild_id, s.user_id
