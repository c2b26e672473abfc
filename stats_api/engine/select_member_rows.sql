-- Each member's activity per bucket over the picked rollup windows, summed here rather than in
-- Python: a big guild's month is 600k+ window rows but tens of thousands of members, and moving
-- rows to the client was nine tenths of a cold answer (docs/benchmarks.md, Stats API). The merges
-- are the same sums, minimum and maxima as transforms.activity.combine_members.
SELECT p.bucket, m.user_id, {merged}
FROM unnest(%(types)s::text[], %(starts)s::timestamptz[], %(buckets)s::bigint[])
     AS p(period_type, period_start, bucket)
JOIN member_activity m
  ON m.guild_id = %(guild_id)s AND m.period_type = p.period_type AND m.period_start = p.period_start
GROUP BY p.bucket, m.user_id
