-- Each member's activity per bucket over the picked rollup windows, summed here rather than in
-- Python: a big guild's month is 600k+ window rows but tens of thousands of members, and moving
-- rows to the client was nine tenths of a cold answer (docs/benchmarks.md, Stats API). The same sums,
-- minimum and maxima as transforms.activity.combine_members, which merges these with raw spans.
SELECT p.bucket, m.user_id,
       sum(m.events)::bigint, sum(m.messages)::bigint, sum(m.reactions_given)::bigint,
       sum(m.reactions_received)::bigint, sum(m.voice_ms)::bigint,
       sum(m.joins)::bigint, sum(m.leaves)::bigint,
       (extract(epoch FROM min(m.first_join_at)) * 1000)::bigint,
       (extract(epoch FROM max(m.last_message_at)) * 1000)::bigint,
       (extract(epoch FROM max(m.last_voice_at)) * 1000)::bigint,
       (extract(epoch FROM max(m.last_seen)) * 1000)::bigint
FROM unnest(%(types)s::text[], %(starts)s::timestamptz[], %(buckets)s::bigint[])
     AS p(period_type, period_start, bucket)
JOIN member_activity m
  ON m.guild_id = %(guild_id)s AND m.period_type = p.period_type AND m.period_start = p.period_start
GROUP BY p.bucket, m.user_id
