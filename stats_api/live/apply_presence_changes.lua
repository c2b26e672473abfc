local state = redis.call('HGET', KEYS[2], 'state')
if not state then return 0 end
local cap = tonumber(ARGV[1])
for i = 3, #ARGV, 3 do
  local user, channel, ts = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local raw = redis.call('HGET', KEYS[1], user)
  local cur = raw and cjson.decode(raw)
  if not cur or ts >= (cur.ts or 0) then
    local entry = {channelId = cjson.null, since = ts, ts = ts}
    if channel ~= '' then
      entry.channelId = channel
      if cur and cur.channelId == channel and ts < cur.since + cap then entry.since = cur.since end
    end
    redis.call('HSET', KEYS[1], user, cjson.encode(entry))
  end
end
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[2], 'asof') or '0') then
  redis.call('HSET', KEYS[2], 'asof', ARGV[2])
end
redis.call('HSET', KEYS[2], 'filled', '1')
redis.call('EXPIRE', KEYS[1], redis.call('TTL', KEYS[2]) + 60)
return 1
