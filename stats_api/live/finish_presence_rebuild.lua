-- One chunk of a rebuild: ARGV = token, asof, built seconds, a JSON array of
-- [user, channel or null, since, ts] entries, '1' on the last chunk. Entries merge into the
-- hash (an entry ingestion wrote meanwhile with a newer ts stays); the last chunk marks it built.
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
for _, e in ipairs(cjson.decode(ARGV[4])) do
  local raw = redis.call('HGET', KEYS[1], e[1])
  if not raw or (cjson.decode(raw).ts or 0) < e[4] then
    redis.call('HSET', KEYS[1], e[1], cjson.encode({channelId = e[2], since = e[3], ts = e[4]}))
  end
end
if ARGV[5] ~= '1' then return 1 end
local asof = redis.call('HGET', KEYS[2], 'asof')
if tonumber(ARGV[2]) > tonumber(asof) then asof = ARGV[2] end
local filled = '0'
if redis.call('EXISTS', KEYS[1]) == 1 then filled = '1' end
redis.call('HSET', KEYS[2], 'state', 'built', 'asof', asof, 'filled', filled)
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[3] + 60)
return 1
