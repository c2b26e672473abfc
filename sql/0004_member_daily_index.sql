-- member_stats re-sums every daily row of each member active in a partition. Right after a
-- backfill member_activity has no statistics yet, and without this index the planner walks the
-- primary key once per member: over 60 s for one day of 2 M events, 2 s with it
-- (docs/benchmarks.md, Aggregate).
CREATE INDEX member_activity_daily_member
    ON member_activity (guild_id, user_id)
    WHERE period_type = 'daily';
