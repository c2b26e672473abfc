INSERT INTO computed_windows (period_type, period_start, period_end, covered_until, computed_at)
SELECT %(period_type)s, w, w + %(every)s::interval, %(covered_until)s, now()
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - %(every)s::interval, %(every)s::interval) AS w
ON CONFLICT (period_type, period_start) DO UPDATE
SET period_end = EXCLUDED.period_end,
    covered_until = EXCLUDED.covered_until,
    computed_at = EXCLUDED.computed_at
