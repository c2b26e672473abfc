SELECT max(m.at)
FROM voice_checkpoint_marks m
WHERE m.at <= %(at)s
  AND NOT EXISTS (
      SELECT 1 FROM window_arrivals a
      WHERE a.period_type = %(grain)s
        AND a.period_start < m.at
        AND a.last_voice_received_at >= m.covered_until
        AND (%(all_guilds)s OR a.guild_id = ANY(%(guild_ids)s)))
