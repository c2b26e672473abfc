local state = redis.call('HGET', KEYS[2], 'state')
if state == 'built' and tonumber(redis.call('HGET', KEYS[2], 'asof')) >= tonumber(ARGV[1])
    and (redis.call('EXISTS', KEYS[1]) == 1 or redis.call('HGET', KEYS[2], 'filled') ~= '1') then
  return {'fresh', redis.call('HGETALL', KEYS[1])}
end
if state == 'building' then return {'busy'} end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HSET', KEYS[2], 'state', 'building', 'token', ARGV[2], 'asof', '0')
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {'start'}
