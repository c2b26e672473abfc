-- One row per member active in [start, end): contract §2 counted from the raw rows.
sessions AS ({sessions}),
voice AS (
    SELECT user_id,
           sum((extract(epoch FROM least(coalesce(ended_at, started_at + %(cap)s), %(end)s) - greatest(started_at, %(start)s)) * 1000)::bigint)::bigint
               AS voice_ms,
           max(least(coalesce(ended_at, started_at + %(cap)s), %(end)s)) AS last_voice_at
    FROM sessions
    WHERE started_at < %(end)s AND coalesce(ended_at, started_at + %(cap)s) > %(start)s
    GROUP BY user_id
), acted AS (
    SELECT user_id, count(*) AS events,
           count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions_given,
           min(ts) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS first_join_at,
           max(ts) FILTER (WHERE type = 'MESSAGE_CREATE') AS last_message_at,
           max(ts) AS last_seen
    FROM events WHERE guild_id = %(guild)s AND ts >= %(start)s AND ts < %(end)s AND user_id IS NOT NULL
    GROUP BY user_id
), received AS (
    SELECT (data ->> 'messageAuthorId') COLLATE "C" AS user_id, count(*) AS reactions_received
    FROM events
    WHERE guild_id = %(guild)s AND ts >= %(start)s AND ts < %(end)s AND type = 'MESSAGE_REACTION_ADD' AND data ->> 'messageAuthorId' IS NOT NULL
      AND (user_id IS NULL OR (data ->> 'messageAuthorId') COLLATE "C" <> user_id)
    GROUP BY 1
), members AS (
    SELECT user_id, coalesce(a.events, 0) AS events, coalesce(a.messages, 0) AS messages,
           coalesce(a.reactions_given, 0) AS reactions_given,
           coalesce(r.reactions_received, 0) AS reactions_received,
           coalesce(v.voice_ms, 0) AS voice_ms, a.first_join_at, a.last_message_at,
           v.last_voice_at, greatest(a.last_seen, v.last_voice_at) AS last_seen
    FROM acted a FULL JOIN received r USING (user_id) FULL JOIN voice v USING (user_id)
)
