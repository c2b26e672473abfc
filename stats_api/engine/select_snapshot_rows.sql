SELECT p.bucket, {counts}
FROM unnest(%(types)s::text[], %(starts)s::timestamptz[], %(buckets)s::bigint[])
     AS p(period_type, period_start, bucket)
JOIN metrics_snapshots s
  ON s.guild_id = %(guild_id)s AND s.period_type = p.period_type AND s.period_start = p.period_start
