-- 5-minute snapshot totals against counts straight from the raw events each window covered.
WITH windows AS (
    SELECT period_start, period_end, covered_until
    FROM computed_windows
    WHERE period_type = %(grain)s AND period_start >= %(since)s
),
raw AS (
    SELECT e.guild_id, w.period_start,
           count(*) AS total_events,
           count(*) FILTER (WHERE e.type = %(message)s) AS total_messages,
           count(*) FILTER (WHERE e.type = %(reaction)s) AS total_reactions,
           count(*) FILTER (WHERE e.type = %(join)s) AS joins,
           count(*) FILTER (WHERE e.type = %(leave)s) AS leaves
    FROM events e
    JOIN windows w ON e.ts >= w.period_start AND e.ts < w.period_end AND e.received_at < w.covered_until
    GROUP BY e.guild_id, w.period_start
),
snap AS (
    SELECT guild_id, period_start, total_events, total_messages, total_reactions, joins, leaves
    FROM metrics_snapshots
    WHERE period_type = %(grain)s AND period_start >= %(since)s
)
SELECT count(*) FILTER (WHERE
           (coalesce(r.total_events, 0), coalesce(r.total_messages, 0), coalesce(r.total_reactions, 0),
            coalesce(r.joins, 0), coalesce(r.leaves, 0))
           IS DISTINCT FROM
           (coalesce(s.total_events, 0), coalesce(s.total_messages, 0), coalesce(s.total_reactions, 0),
            coalesce(s.joins, 0), coalesce(s.leaves, 0))),
       (SELECT count(*) FROM windows)
FROM raw r FULL JOIN snap s USING (guild_id, period_start)
