-- Appends a guild's state to its stream unless the stream's newest entry already shows this
-- state or a newer one: two workers publishing for one guild never add the same state twice,
-- nor an older state after a newer one.
-- KEYS[1] the guild's stream. ARGV: newest arrival (epoch µs), digest of the state, the event's
-- JSON, MAXLEN, TTL seconds. Answers {id, data} of the stream's newest entry afterwards.
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if last then
    local fields = {}
    for i = 1, #last[2], 2 do
        fields[last[2][i]] = last[2][i + 1]
    end
    local newest, stored = tonumber(ARGV[1]), tonumber(fields['newest'] or '0')
    if newest < stored or (newest == stored and fields['digest'] == ARGV[2]) then
        return {last[1], fields['data']}
    end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], '*',
                      'newest', ARGV[1], 'digest', ARGV[2], 'data', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {id, ARGV[3]}
