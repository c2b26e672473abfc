-- Every daily row of every member with a daily row in the range: lifetime totals need them all.
SELECT {columns}
FROM member_activity a
JOIN (SELECT DISTINCT guild_id, user_id FROM member_activity
      WHERE period_type = %(grain)s AND period_start >= %(start)s AND period_start < %(end)s) touched
  USING (guild_id, user_id)
WHERE a.period_type = %(grain)s
