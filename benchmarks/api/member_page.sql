-- Page 1 of the member list by messages, with the total count.
WITH {members}

SELECT user_id, messages, voice_ms, reactions_given, reactions_received, last_message_at, last_voice_at, last_seen, first_join_at, count(*) OVER () FROM members
ORDER BY messages DESC, length(user_id), user_id LIMIT %(limit)s
