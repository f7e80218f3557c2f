-- progress_read.lua: the host's board reads many attendees' progress records in one step.
--
-- The records are written by attendees, so the board cannot trust their size: a message of 5 MB,
-- a 5 MB "tries", or a hash with half a million extra fields would travel to the host on every
-- refresh. Here only the six known fields are read, and each is cut on the server before it is
-- sent: the message to ARGV[1] bytes, the others to 20 (a whole number of seconds, or an outcome).
-- A cut never splits a UTF-8 character: a character the cut went through is left out whole.
--
-- KEYS     the records, <attendee>:progress:{<exercise>} (one server: the workshop runs on one)
-- ARGV[1]  the longest message kept, in bytes
-- Returns one entry per key, in order: 0 for a key that is missing or not a hash, else
-- {outcome, message, tries, first, last, passed}, each false where the field is missing.
local SHORT = 20

local function cut(text, longest)
  if #text <= longest then
    return text
  end
  text = string.sub(text, 1, longest)
  local start = #text   -- back to the first byte of the last character (continuation bytes are 10xxxxxx)
  while start > 1 and string.byte(text, start) >= 0x80 and string.byte(text, start) < 0xC0 do
    start = start - 1
  end
  local lead = string.byte(text, start)
  local length = (lead >= 0xF0 and 4) or (lead >= 0xE0 and 3) or (lead >= 0xC0 and 2) or 1
  if #text - start + 1 < length then
    text = string.sub(text, 1, start - 1)   -- that character was cut through: leave it out
  end
  return text
end

local longest = tonumber(ARGV[1])
local found = {}
for i, key in ipairs(KEYS) do
  local fields = redis.pcall('HMGET', key, 'outcome', 'message', 'tries', 'first', 'last', 'passed')
  if type(fields) ~= 'table' or fields.err or not (fields[1] or fields[3]) then
    found[i] = 0   -- a key of another type (an error), or no record at all
  else
    for n = 1, 6 do
      if fields[n] then
        fields[n] = cut(fields[n], n == 2 and longest or SHORT)
      end
    end
    found[i] = fields
  end
end
return found
