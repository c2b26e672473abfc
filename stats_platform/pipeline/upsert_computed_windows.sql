-- computed_at is taken just before the commit (clock_timestamp, not the transaction's start):
-- the late-data sensor compares it with its ticks to tell which windows a tick could not see.
INSERT INTO computed_windows (period_type, period_start, period_end, covered_until, computed_at)
SELECT %(period_type)s, w, w + %(every)s::interval, %(covered_until)s, clock_timestamp()
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - %(every)s::interval, %(every)s::interval) AS w
ON CONFLICT (period_type, period_start) DO UPDATE
SET period_end = EXCLUDED.period_end,
    covered_until = EXCLUDED.covered_until,
    computed_at = EXCLUDED.computed_at
