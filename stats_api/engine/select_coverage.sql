-- Computed windows of each span's grain that overlap the span, with this guild's newest
-- arrivals; and those that end in the %(reach)s before a span, only where a late voice event
-- arrived (its sessions can reach into the span: domain.voice.voice_stale), since that is all
-- the engine needs of them. The second part walks the guild's arrivals, not every window of
-- the reach (a day of 5-minute windows). %(longest)s is the longest grain: no window that ends
-- after a point starts earlier than that before it (the index range).
--
-- Each span reads its own index range (LATERAL, kept from being flattened by OFFSET 0): joined
-- as a whole, the planner may hash all of the guild's arrivals of a grain instead (it did, for a
-- small guild: 447 rows read for 9 used, 1.2 ms), whatever its statistics say. The arrivals'
-- lower bound comes computed (%(reach_starts)b: span start - reach - longest): under the
-- row-level policy only leakproof comparisons of plain values reach the index, and
-- timestamptz - interval is not leakproof, so computed here it was a filter over every
-- arrival before the span. The arrays are bound in binary (placeholders ending in b): psycopg
-- writes a list of timestamps as text several times slower.
SELECT c.period_type, c.period_start, c.covered_until, a.last_received_at, a.last_voice_received_at
FROM unnest(%(grains)b::text[], %(starts)b::timestamptz[], %(ends)b::timestamptz[])
  AS span(grain, span_start, span_end)
CROSS JOIN LATERAL (
  SELECT c.period_type, c.period_start, c.covered_until
  FROM computed_windows c
  WHERE c.period_type = span.grain
    AND c.period_start >= span.span_start - %(longest)s::interval
    AND c.period_start < span.span_end
    AND c.period_end > span.span_start
  OFFSET 0
) c
LEFT JOIN window_arrivals a
  ON a.guild_id = %(guild_id)s AND a.period_type = c.period_type AND a.period_start = c.period_start
UNION ALL
SELECT c.period_type, c.period_start, c.covered_until, a.last_received_at, a.last_voice_received_at
FROM unnest(%(grains)b::text[], %(starts)b::timestamptz[], %(reach_starts)b::timestamptz[])
  AS span(grain, span_start, reach_start)
CROSS JOIN LATERAL (
  SELECT a.period_type, a.period_start, a.last_received_at, a.last_voice_received_at
  FROM window_arrivals a
  WHERE a.guild_id = %(guild_id)s
    AND a.period_type = span.grain
    AND a.period_start >= span.reach_start
    AND a.period_start < span.span_start
    AND a.last_voice_received_at IS NOT NULL
  OFFSET 0
) a
JOIN computed_windows c
  ON c.period_type = a.period_type AND c.period_start = a.period_start
 AND c.period_end > span.span_start - %(reach)s::interval
 AND c.period_end <= span.span_start
 AND a.last_voice_received_at >= c.covered_until
