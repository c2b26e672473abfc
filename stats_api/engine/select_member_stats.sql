SELECT {columns}
FROM member_stats
WHERE guild_id = %(guild_id)s
