-- Computed windows where some guild's newest arrival is at or after the window's coverage,
-- limited to arrivals in (after, until] so each is handled once. A run fixes its coverage
-- when it starts and commits later, so a tick in between saw an arrival before the window it
-- is late for existed: windows committed since the previous tick (`ticked`) are checked again.
-- The LEAST bound keeps the scan on the last_received_at index.
SELECT a.period_type,
       a.period_start,
       bool_or(a.last_voice_received_at >= c.covered_until) AS late_voice
FROM window_arrivals a
JOIN computed_windows c USING (period_type, period_start)
WHERE a.last_received_at > LEAST(%(after)s::timestamptz, (
          SELECT min(covered_until) FROM computed_windows WHERE computed_at > %(ticked)s))
  AND (a.last_received_at > %(after)s OR c.computed_at > %(ticked)s)
  AND a.last_received_at <= %(until)s
  AND a.last_received_at >= c.covered_until
GROUP BY a.period_type, a.period_start
ORDER BY a.period_type, a.period_start
