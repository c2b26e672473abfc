-- Dashboard totals of one guild's window from raw events, top three members by messages.
WITH {members},
counts AS (
    SELECT count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS joins,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE') AS leaves
    FROM events WHERE guild_id = %(guild)s AND ts >= %(start)s AND ts < %(end)s
)
SELECT c.messages, (SELECT coalesce(sum(voice_ms), 0)::bigint FROM members), c.reactions,
       (SELECT count(*) FROM members WHERE events > 0 OR voice_ms > 0), c.joins, c.leaves,
       (SELECT coalesce(json_agg(json_build_array(user_id, messages, voice_ms / 60000)), '[]')
        FROM (SELECT * FROM members WHERE messages > 0
              ORDER BY messages DESC, length(user_id), user_id LIMIT 3) top)
FROM counts c
