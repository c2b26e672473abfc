-- Voice events of one guild over a time range, from the index alone: the stats API replays them
-- from the latest checkpoint for every raw tail, and voice/live's rebuild of its Redis hash reads
-- every member's last voice event of the past 24 hours; over (type, ts) both visited every
-- guild's voice rows in the heap (docs/benchmarks.md, Voice live: a rebuild). Only voice rows pay its btree insert on ingest.
-- The build holds ingest's inserts back while it runs (some seconds per 10 M events kept);
-- batches wait or are retried by the bot, none is lost.
CREATE INDEX events_voice_guild_ts ON events (guild_id, ts) INCLUDE (user_id, channel_id, seq)
    WHERE type = 'VOICE_STATE_UPDATE';
