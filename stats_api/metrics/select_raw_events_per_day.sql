-- Raw events per daily partition of `events`, as the catalog estimates them (reltuples, kept by
-- autovacuum and ANALYZE; -1 before the first): a scrape must never scan the raw table.
-- Partitions are named by their bound, FOR VALUES FROM ('<day>') TO ('<next day>').
SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM $$FROM \('([^']+)'\)$$)::timestamptz,
       greatest(c.reltuples, 0)::bigint
FROM pg_inherits AS i
JOIN pg_class AS c ON c.oid = i.inhrelid
WHERE i.inhparent = 'events'::regclass AND c.relpartbound IS NOT NULL
