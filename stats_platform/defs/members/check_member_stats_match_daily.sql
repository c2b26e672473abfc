WITH daily AS (
    SELECT guild_id, user_id, {sums}
    FROM member_activity
    WHERE period_type = %(grain)s
    GROUP BY guild_id, user_id
)
SELECT count(*) FILTER (WHERE ({daily_totals}) IS DISTINCT FROM ({stored_totals})), count(*)
FROM daily d FULL JOIN member_stats m USING (guild_id, user_id)
