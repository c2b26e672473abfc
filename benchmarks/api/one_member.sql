-- One member's row of the window.
WITH {members}
SELECT user_id, messages, voice_ms, reactions_given, reactions_received, last_message_at, last_voice_at, last_seen, first_join_at FROM members WHERE user_id = %(user)s
