SELECT p.bucket, m.user_id, m.events, m.messages, m.reactions_given, m.reactions_received,
       m.voice_ms, m.joins, m.leaves,
       (extract(epoch FROM m.first_join_at) * 1000)::bigint,
       (extract(epoch FROM m.last_message_at) * 1000)::bigint,
       (extract(epoch FROM m.last_voice_at) * 1000)::bigint,
       (extract(epoch FROM m.last_seen) * 1000)::bigint
FROM unnest(%(types)s::text[], %(starts)s::timestamptz[], %(buckets)s::bigint[])
     AS p(period_type, period_start, bucket)
JOIN member_activity m
  ON m.guild_id = %(guild_id)s AND m.period_type = p.period_type AND m.period_start = p.period_start
