-- API keys: only a SHA-256 of the secret is stored; key_id is the public prefix used to look it up.
CREATE TABLE api_keys (
    key_id       text PRIMARY KEY,
    key_hash     text NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('ingest', 'read')),
    all_guilds   boolean NOT NULL DEFAULT false,
    guild_ids    text[] COLLATE "C" NOT NULL DEFAULT '{}',
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CHECK (all_guilds OR cardinality(guild_ids) > 0)
);
