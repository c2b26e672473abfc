"""The query engine: exact activity per bucket and lifetime member rows, for the stats routes.

- `activity`: `activity(...)` and `Activity`, putting the parts below together.
- `lifetime`: `lifetime_members(...)`, member_stats corrected for days not covered exactly;
  `lifetime_and_periods(...)` also answers some periods from the same activity read.
- `computed`: which rollup windows are computed and still exact for a guild.
- `plan`: which windows and raw spans answer each bucket (pure, no I/O).
- `rollup_reads`: the picked windows' stored rows, summed per bucket.
- `raw_tail`: the raw spans, computed with the pipeline's transforms.
- `frames`: the schemas of the frames passed between them.
"""
