-- Activity per hour or day label: counts, voice minutes, distinct active members.
WITH sessions AS ({sessions}),
pieces AS (
    SELECT w AS label, user_id,
           sum((extract(epoch FROM least(least(coalesce(ended_at, started_at + %(cap)s), %(end)s), w + %(step)s) - greatest(started_at, %(start)s, w))
                * 1000)::bigint)::bigint AS voice_ms
    FROM sessions,
         generate_series(date_trunc(%(unit)s, greatest(started_at, %(start)s), 'UTC'),
                         least(coalesce(ended_at, started_at + %(cap)s), %(end)s) - interval '1 millisecond', %(step)s) AS w
    WHERE started_at < %(end)s AND coalesce(ended_at, started_at + %(cap)s) > %(start)s
    GROUP BY 1, 2
), counts AS (
    SELECT date_trunc(%(unit)s, ts, 'UTC') AS label,
           count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS joins,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE') AS leaves
    FROM events WHERE guild_id = %(guild)s AND ts >= %(start)s AND ts < %(end)s GROUP BY 1
), active AS (
    SELECT label, count(*) AS users FROM (
        SELECT date_trunc(%(unit)s, ts, 'UTC') AS label, user_id
        FROM events WHERE guild_id = %(guild)s AND ts >= %(start)s AND ts < %(end)s AND user_id IS NOT NULL
        UNION
        SELECT label, user_id FROM pieces WHERE voice_ms > 0) u
    GROUP BY 1
)
SELECT b.label, coalesce(c.messages, 0), coalesce(v.voice_ms, 0) / 60000, coalesce(c.reactions, 0),
       coalesce(a.users, 0), coalesce(c.joins, 0), coalesce(c.leaves, 0)
FROM unnest(%(labels)s::timestamptz[]) AS b(label)
LEFT JOIN counts c USING (label)
LEFT JOIN (SELECT label, sum(voice_ms)::bigint AS voice_ms FROM pieces GROUP BY 1) v USING (label)
LEFT JOIN active a USING (label)
ORDER BY b.label
