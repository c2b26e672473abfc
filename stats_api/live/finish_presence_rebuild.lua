if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
for i = 4, #ARGV, 4 do
  local raw = redis.call('HGET', KEYS[1], ARGV[i])
  local ts = tonumber(ARGV[i + 3])
  if not raw or (cjson.decode(raw).ts or 0) < ts then
    local channel = ARGV[i + 1]
    if channel == '' then channel = cjson.null end
    redis.call('HSET', KEYS[1], ARGV[i],
      cjson.encode({channelId = channel, since = tonumber(ARGV[i + 2]), ts = ts}))
  end
end
local asof = redis.call('HGET', KEYS[2], 'asof')
if tonumber(ARGV[2]) > tonumber(asof) then asof = ARGV[2] end
local filled = '0'
if redis.call('EXISTS', KEYS[1]) == 1 then filled = '1' end
redis.call('HSET', KEYS[2], 'state', 'built', 'asof', asof, 'filled', filled)
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[3] + 60)
return 1
