-- The overall leaderboard: messages + voice minutes + reactions given.
WITH {members}

SELECT user_id, messages + voice_ms / 60000 + reactions_given AS score, messages,
       voice_ms / 60000, reactions_given
FROM members WHERE messages + voice_ms / 60000 + reactions_given > 0
ORDER BY score DESC, length(user_id), user_id LIMIT %(limit)s
