-- Computed windows that received events they did not count (a guild's newest arrival at or
-- after the window's covered_until): what the late-data sensor has yet to recompute.
SELECT a.period_type, count(DISTINCT a.period_start)
FROM window_arrivals AS a
JOIN computed_windows AS w USING (period_type, period_start)
WHERE a.last_received_at >= w.covered_until
GROUP BY a.period_type
