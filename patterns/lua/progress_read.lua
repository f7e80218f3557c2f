-- progress_read.lua: the host's board reads many attendees' progress records in one step.
--
-- The records are written by attendees, so the board cannot trust their size: a message of 5 MB,
-- or a hash with half a million extra fields, would travel to the host on every refresh. Here only
-- the six known fields are read, and the message is cut on the server before it is sent.
--
-- KEYS     the records, <attendee>:progress:{<exercise>} (one server: the workshop runs on one)
-- ARGV[1]  the longest message kept, in bytes
-- Returns one entry per key, in order: 0 for a key that is missing or not a hash, else
-- {outcome, message, tries, first, last, passed}, each false where the field is missing.
local longest = tonumber(ARGV[1])
local found = {}
for i, key in ipairs(KEYS) do
  local fields = redis.pcall('HMGET', key, 'outcome', 'message', 'tries', 'first', 'last', 'passed')
  if type(fields) ~= 'table' or fields.err or not (fields[1] or fields[3]) then
    found[i] = 0   -- a key of another type (an error), or no record at all
  else
    if fields[2] then
      fields[2] = string.sub(fields[2], 1, longest)
    end
    found[i] = fields
  end
end
return found
