-- Members in voice now: sessions still open, started within the cap.
WITH sessions AS ({sessions})
SELECT channel_id, user_id, started_at FROM sessions
WHERE ended_at IS NULL AND started_at > %(now)s - %(cap)s
ORDER BY length(channel_id), channel_id, started_at, length(user_id), user_id
