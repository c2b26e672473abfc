-- For each span start, the checkpoint its voice replay starts from (NULL: from the first event
-- kept), by stats_platform/storage/select_latest_checkpoint.sql's rule: the newest mark at or
-- before the start that no late voice event of the guild has invalidated.
SELECT (SELECT m.at
        FROM voice_checkpoint_marks m
        WHERE m.at <= s.span_start
          AND NOT EXISTS (
              SELECT 1 FROM window_arrivals a
              WHERE a.period_type = %(grain)s
                AND a.period_start < m.at
                AND a.last_voice_received_at >= m.covered_until
                AND a.guild_id = %(guild_id)s)
        ORDER BY m.at DESC
        LIMIT 1)
FROM unnest(%(starts)s::timestamptz[]) WITH ORDINALITY AS s(span_start, n)
ORDER BY s.n
