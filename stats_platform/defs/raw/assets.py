import dagster as dg

events = dg.AssetSpec(
    "events",
    description="Raw Discord events landed by POST /v1/events (hypertable or daily partitions).",
    group_name="raw",
    kinds={"postgres"},
)

live_voice_presence = dg.AssetSpec(
    "live_voice_presence",
    description="Who is in which voice channel now, kept in Redis by ingestion (rebuildable from events).",
    group_name="raw",
    kinds={"redis"},
    deps=[events],
)
