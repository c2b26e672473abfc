INSERT INTO member_stats AS m ({columns}, updated_at)
SELECT {columns}, now()
FROM member_stats_stage
ON CONFLICT (guild_id, user_id) DO UPDATE
SET {updates}, updated_at = EXCLUDED.updated_at
