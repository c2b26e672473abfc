-- Computed windows where some guild's newest arrival is at or after the window's coverage,
-- limited to arrivals in (after, until] so each is handled once.
SELECT a.period_type,
       a.period_start,
       bool_or(a.last_voice_received_at >= c.covered_until) AS late_voice
FROM window_arrivals a
JOIN computed_windows c USING (period_type, period_start)
WHERE a.last_received_at > %(after)s
  AND a.last_received_at <= %(until)s
  AND a.last_received_at >= c.covered_until
GROUP BY a.period_type, a.period_start
ORDER BY a.period_type, a.period_start
