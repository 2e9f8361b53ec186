-- goro: Go's concurrency model for Lua 5.4.
--
-- `local goro = require "goro"` gives the C core (goro.core) and the parts
-- that read best in Lua: channel iteration and the profiler's table.

-- goro's C core is built on Lua 5.4's API: under another Lua, the core
-- refuses to open (vm_bridge/lua54.c); this says the same before it is
-- loaded at all. Everything above the require of the core must stay valid
-- Lua 5.1.
if _VERSION ~= "Lua 5.4" then
  local this = type(jit) == "table" and jit.version or _VERSION
  error("goro requires Lua 5.4 (this is " .. tostring(this) .. ")", 2)
end

local core = require "goro.core"
-- Keep error messages stable: Lua names a C function by the first loaded
-- module it finds it in, and "goro" and "goro.core" would hold the same
-- functions in hash order. So the core is reachable as goro.core only.
package.loaded["goro.core"] = nil

local goro = {}
for k, v in pairs(core) do goro[k] = v end
goro._VERSION = "goro " .. core.version
goro.core = core

local chan = core.chan

-- for v in ch:iter() do ... end: receive until the channel is closed and
-- drained. Like every Lua iterator, it also stops at a nil value.
local chanmt = getmetatable(chan(0))
function chanmt.iter(ch)
  return function()
    local v, ok = ch:recv()
    if ok then return v end
  end
end

-- goro.profile: the CPU profiler (start{hz, path, format}, stop() -> path,
-- summary()). The core's profile_* functions stay out of goro's top level.
goro.profile = {
  start = core.profile_start,
  stop = core.profile_stop,
  summary = core.profile_summary,
}
goro.profile_start, goro.profile_stop, goro.profile_summary = nil, nil, nil

-- goro.net and goro.io, also as the modules "goro.net" and "goro.io": Lua
-- names a C function in an error by the loaded module it finds it in
-- ("bad argument #1 to 'goro.net.dial'").
package.loaded["goro.net"] = goro.net
package.loaded["goro.io"] = goro.io

return goro
