-- As select_raw_events_per_day.sql where `events` is a TimescaleDB hypertable of 1-day chunks.
SELECT ch.range_start, greatest(c.reltuples, 0)::bigint
FROM timescaledb_information.chunks AS ch
JOIN pg_class AS c ON c.oid = format('%I.%I', ch.chunk_schema, ch.chunk_name)::regclass
WHERE ch.hypertable_name = 'events'
