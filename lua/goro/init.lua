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
package.loaded["goro.context"] = goro.context

-- goro.synctest: virtual time for tests (Go's testing/synctest; design in
-- runtime/HACKING.md, "Virtual time").
--
--   goro.synctest.run(function()
--     local t0 = goro.now()
--     goro.sleep(30)                      -- returns at once...
--     assert(goro.now() - t0 == 30)       -- ...30 s later on the clock
--   end)
--
-- run(f, ...) runs f(...) in a new G, the root of a bubble, and returns
-- f's results (or raises its error) once every G of the bubble ended.
-- G's started by the bubble's G's are in it. Inside, goro.now() starts at
-- a fixed epoch (2000-01-01 UTC as Unix seconds) and moves only when
-- every G of the bubble is durably blocked (on a channel, timer,
-- context or sync object made in the bubble, or asleep): it then jumps
-- to the bubble's next timer. A G blocked on anything made outside the
-- bubble, on I/O or in C, is not durably blocked: the bubble then
-- waits in real time. Durably blocked with no timer left is a deadlock:
-- run raises, with the dump of the bubble's G's. Called outside any G,
-- run runs inside a goro.run of its own. wait() (from a G of a bubble)
-- returns once every other G of the bubble is durably blocked; inside()
-- says whether the caller is in a bubble.
local synctest_run = core._synctest_run
goro._synctest_run, goro._synctest_wait, goro._synctest_inside = nil, nil, nil
local synctest = {wait = core._synctest_wait, inside = core._synctest_inside}

function synctest.run(f, ...)
  if type(f) ~= "function" then
    error("bad argument #1 to 'run' (function expected, got " .. type(f) .. ")", 2)
  end
  if core.self() == nil then return core.run(synctest.run, f, ...) end
  local args, res = table.pack(...), nil
  synctest_run(function()
    res = table.pack(pcall(f, table.unpack(args, 1, args.n)))
  end)
  if res == nil then error("goro.synctest.run: the bubble's root goroutine did not finish", 2) end
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end
goro.synctest = synctest
package.loaded["goro.synctest"] = synctest

return goro
