-- Member rows: per guild, window and member, events, voice and reactions received.
WITH parts AS (
    SELECT guild_id, date_bin(%(every)s, ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS period_start, user_id,
           count(*) AS events,
           count(*) FILTER (WHERE type = 'MESSAGE_CREATE') AS messages,
           count(*) FILTER (WHERE type = 'MESSAGE_REACTION_ADD') AS reactions_given,
           0 AS reactions_received, 0 AS voice_ms,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS joins,
           count(*) FILTER (WHERE type = 'GUILD_MEMBER_REMOVE') AS leaves,
           min(ts) FILTER (WHERE type = 'GUILD_MEMBER_ADD') AS first_join_at,
           max(ts) FILTER (WHERE type = 'MESSAGE_CREATE') AS last_message_at,
           NULL::timestamptz AS last_voice_at,
           max(ts) AS last_seen
    FROM events WHERE ts >= %(start)s AND ts < %(end)s AND received_at < %(as_of)s AND user_id IS NOT NULL
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT guild_id, date_bin(%(every)s, ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'), (data ->> 'messageAuthorId') COLLATE "C",
           0, 0, 0, count(*), 0, 0, 0, NULL, NULL, NULL, NULL
    FROM events
    WHERE ts >= %(start)s AND ts < %(end)s AND received_at < %(as_of)s AND type = 'MESSAGE_REACTION_ADD' AND data ->> 'messageAuthorId' IS NOT NULL
      AND (user_id IS NULL OR (data ->> 'messageAuthorId') COLLATE "C" <> user_id)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT guild_id, period_start, user_id, 0, 0, 0, 0, voice_ms, 0, 0, NULL, NULL,
           last_voice_at, last_voice_at
    FROM bench_voice_windows
)
SELECT guild_id, period_start, user_id,
       sum(events)::bigint AS events, sum(messages)::bigint AS messages,
       sum(reactions_given)::bigint AS reactions_given,
       sum(reactions_received)::bigint AS reactions_received, sum(voice_ms)::bigint AS voice_ms,
       sum(joins)::bigint AS joins, sum(leaves)::bigint AS leaves,
       min(first_join_at) AS first_join_at, max(last_message_at) AS last_message_at,
       max(last_voice_at) AS last_voice_at, max(last_seen) AS last_seen
FROM parts GROUP BY 1, 2, 3
