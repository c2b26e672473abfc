-- Computed windows of the given grains inside any of the spans, with this guild's newest arrivals.
-- %(longest)s is the longest grain: no overlapping window starts earlier than that before a span.
SELECT c.period_type, c.period_start, c.covered_until, a.last_received_at, a.last_voice_received_at
FROM unnest(%(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS span(span_start, span_end)
JOIN computed_windows c
  ON c.period_type = ANY(%(grains)s)
 AND c.period_start >= span.span_start - %(longest)s::interval
 AND c.period_start < span.span_end
 AND c.period_end > span.span_start
LEFT JOIN window_arrivals a
  ON a.guild_id = %(guild_id)s AND a.period_type = c.period_type AND a.period_start = c.period_start
