-- The latest voice instant of every active member (the caller's temp table active_members) from
-- their sessions: the session's end, its cap for one never closed, and never past the
-- computation (as_of). A daily row stops at its day's end; a session running past it still ends
-- where it ends.
SELECT s.guild_id, s.user_id,
       (extract(epoch FROM max(LEAST(COALESCE(s.ended_at, s.started_at + %(cap)s::interval),
                                     %(as_of)s::timestamptz))) * 1000)::bigint
FROM voice_sessions s
JOIN active_members USING (guild_id, user_id)
GROUP BY s.guild_id, s.user_id
