-- Daily member rows are no longer written: lifetime totals (member_stats) are merged from the
-- widest span blocks (member_blocks, period_type '32d'), each the merge of its days' daily
-- blocks, so a guild's lifetime reads a few blocks instead of a row per member and day. Every
-- daily write since 0005 wrote the daily blocks, and the spans from them, beside these rows, and
-- 0005 built both from the rows before, so the blocks hold every day the rows do: nothing is
-- moved, and member_stats answers the same. The 5-minute and hourly rows went in 0005; with the
-- daily ones the table goes. The daily job no longer writes a row per member and day (a third
-- of its time over a week of 14 M events, docs/benchmarks.md).
DROP TABLE member_activity;
