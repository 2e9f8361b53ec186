-- goro: Go's concurrency model for Lua 5.4.
--
-- `local goro = require "goro"` gives the C core (goro.core) and the parts
-- that read best in Lua: timers that deliver on channels, and channel
-- iteration.
local core = require "goro.core"
-- Keep error messages stable: Lua names a C function by the first loaded
-- module it finds it in, and "goro" and "goro.core" would hold the same
-- functions in hash order. So the core is reachable as goro.core only.
package.loaded["goro.core"] = nil

local goro = {}
for k, v in pairs(core) do goro[k] = v end
goro._VERSION = "goro " .. core.version
goro.core = core

local chan, go, sleep, now, select, default =
  core.chan, core.go, core.sleep, core.now, core.select, core.default

local function checkseconds(s, fname)
  if math.type(s) == nil then
    error(("bad argument #1 to '%s' (number expected, got %s)")
      :format(fname, s == nil and "no value" or type(s)), 3)
  end
end

-- goro.after(s) -> ch: a channel that receives goro.now() once, s seconds
-- from now (Go's time.After). A G sleeps for it.
function goro.after(s)
  checkseconds(s, "after")
  local ch = chan(1)
  go(function()
    sleep(s)
    ch:send(now())
  end)
  return ch
end

local Ticker = {}
Ticker.__index = Ticker

-- t:stop(): no more ticks are sent after it returns.
function Ticker:stop()
  self.stopped = true
end

-- goro.ticker(s) -> t: t.ch receives goro.now() every s seconds until
-- t:stop(). Like Go's time.Ticker, a tick is dropped when the reader is
-- behind, and the ticker keeps its period.
function goro.ticker(s)
  checkseconds(s, "ticker")
  if s <= 0 then
    error("bad argument #1 to 'ticker' (non-positive interval)", 2)
  end
  local t = setmetatable({ ch = chan(1), stopped = false }, Ticker)
  go(function()
    local at = now() + s
    while true do
      sleep(at - now())
      if t.stopped then return end
      select(t.ch:case_send(now()), default)
      at = at + s
      local late = now() - at
      if late > 0 then at = at + math.ceil(late / s) * s end
    end
  end)
  return t
end

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

return goro
