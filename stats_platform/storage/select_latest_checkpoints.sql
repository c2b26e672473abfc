-- For each instant of %(ats)s, in order: the newest checkpoint mark at or before it that no late
-- voice event of the selected guilds has invalidated (a window before the mark whose newest voice
-- arrival came after the mark's covered_until), or NULL when none: a replay then starts from the
-- first event kept. The newest valid mark is found walking back from the instant, not by an
-- anti-join over every mark.
SELECT (SELECT m.at
        FROM voice_checkpoint_marks m
        WHERE m.at <= s.at
          AND NOT EXISTS (
              SELECT 1 FROM window_arrivals a
              WHERE a.period_type = %(grain)s
                AND a.period_start < m.at
                AND a.last_voice_received_at >= m.covered_until
                AND (%(all_guilds)s OR a.guild_id = ANY(%(guild_ids)s)))
        ORDER BY m.at DESC
        LIMIT 1)
FROM unnest(%(ats)s::timestamptz[]) WITH ORDINALITY AS s(at, n)
ORDER BY s.n
