-- goro: Go's concurrency model for Lua 5.4.
--
-- `local goro = require "goro"` loads the C core (goro.core) and adds the
-- parts that read best in Lua.
local core = require "goro.core"

local goro = {
  _VERSION = "goro " .. core.version,
  arch = core.arch,
  core = core,
}

-- goro.stats() -> a table of runtime figures.
-- `stacks` is the number of G stacks in use; the rest describe the pool.
function goro.stats()
  local s = core.stackstats()
  return {
    stacks = s.live,
    stacks_pooled = s.pooled,
    stack_size = s.stack_size,
    stack_bytes_reserved = s.reserved_bytes,
  }
end

return goro
