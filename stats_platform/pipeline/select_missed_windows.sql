-- Windows of one grain in [since, until) that no run has computed: a gap in computed_windows.
SELECT w
FROM generate_series(%(since)s::timestamptz, %(until)s::timestamptz - %(every)s::interval,
                     %(every)s::interval) AS w
WHERE NOT EXISTS (
    SELECT 1 FROM computed_windows c WHERE c.period_type = %(grain)s AND c.period_start = w)
ORDER BY w
