-- One chunk of a rebuild: ARGV = token, asof, built seconds, a JSON array of
-- [user, entry JSON, ts], '1' on the last chunk. Entries merge into the hash (an entry ingestion
-- wrote meanwhile with a ts at least as new stays), read with one HMGET and written with one
-- HSET; the last chunk marks the hash built.
if redis.call('HGET', KEYS[2], 'token') ~= ARGV[1] then return 0 end
local entries = cjson.decode(ARGV[4])
if #entries > 0 then
  local users = {}
  for i, e in ipairs(entries) do users[i] = e[1] end
  local held = redis.call('HMGET', KEYS[1], unpack(users))
  local fields = {}
  for i, e in ipairs(entries) do
    local raw = held[i]
    if not raw or (cjson.decode(raw).ts or 0) < e[3] then
      fields[#fields + 1] = e[1]
      fields[#fields + 1] = e[2]
    end
  end
  if #fields > 0 then redis.call('HSET', KEYS[1], unpack(fields)) end
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
