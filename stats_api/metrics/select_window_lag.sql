-- Seconds from the end of each grain's newest computed window to now.
SELECT period_type, extract(epoch FROM now() - max(period_end))::float8
FROM computed_windows
GROUP BY period_type
