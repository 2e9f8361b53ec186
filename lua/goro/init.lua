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

-- goro.scope([ctx]): structured concurrency (runtime/HACKING.md, "Scopes").
--
--   local s <close> = goro.scope(ctx)
--   s:go(f, ...)   -- a G of the scope; s.ctx is the scope's own context
--   local ok, err = s:wait()
--
-- Leaving the block (normally, by an error, by break or return) waits for
-- every G started through s, so none outlives it. The first error raised
-- in one of them cancels s.ctx (with that error as its cause); every
-- error is kept, in order, in one goro.errors value (err[1], err[2], ...;
-- tostring joins them by newlines). s:limit(n) lets at most n of the
-- scope's G's run at once: s:go waits for a free place.
--
-- Leaving the block by an error first cancels s.ctx (its cause: that
-- error), then waits; that error goes on. Leaving it normally when a G
-- failed and nobody called s:wait() raises the goro.errors value.
local context = core.context
local go_in = core._go_in
goro._go_in = nil
local getinfo = debug.getinfo
local errorsmt = {__name = "goro.errors"}
function errorsmt.__tostring(e)
  local t = {}
  for i = 1, #e do t[i] = tostring(e[i]) end
  return table.concat(t, "\n")
end

local scope = {}
scope.__index = scope
scope.__name = "goro.scope"

-- The end of every G of scope s: f's error is kept (the first cancels
-- s.ctx); its results are the G's (g:wait()).
local function ended(s, ok, ...)
  if not ok then
    local errs = s._errs
    errs[#errs + 1] = ...
    if #errs == 1 then s._cancel((...)) end
  end
  s._running = s._running - 1
  if s._sem then s._sem:release(1) end
  s._wg:done()
  if ok then return ... end
end

local function run_in(s, f, ...) return ended(s, pcall(f, ...)) end

function goro.scope(parent)
  local ctx, cancel = context.with_cancel_cause(parent or context.background())
  local at = getinfo(2, "Sl")  -- where it was opened, for goro.dump()
  return setmetatable({ctx = ctx, _cancel = cancel, _wg = core.waitgroup(),
                       _errs = {}, _running = 0, _open = true,
                       _where = at and at.short_src .. ":" .. at.currentline}, scope)
end

-- s:go(f, ...) -> g: run f(...) in a new G of the scope.
function scope.go(s, f, ...)
  if getmetatable(s) ~= scope then error("bad argument #1 to 'go' (goro.scope expected)", 2) end
  if type(f) ~= "function" then
    error("bad argument #1 to 'go' (function expected, got " .. type(f) .. ")", 2)
  end
  if not s._open then error("goro.scope: go on a scope that has ended", 2) end
  if s._sem then s._sem:acquire(1) end
  if not s._open then  -- (it ended while we waited for a place)
    s._sem:release(1)
    error("goro.scope: go on a scope that has ended", 2)
  end
  s._running = s._running + 1
  s._wg:add(1)
  local g = go_in(s, run_in, s, f, ...)  -- (not a tail call: go_in looks
  return g                                -- two levels up for its creator)
end

-- s:limit(n): at most n G's of the scope at once (nil: no limit).
function scope.limit(s, n)
  if s._running > 0 then
    error("goro.scope: limit changed while the scope's G's run", 2)
  end
  if n == nil then
    s._sem = nil
  else
    if math.type(n) ~= "integer" or n < 1 then
      error("bad argument #1 to 'limit' (positive integer expected)", 2)
    end
    s._sem = core.semaphore(n)
  end
end

-- Wait for every G of the scope, then end it (s.ctx is cancelled).
local function finish(s)
  s._wg:wait()
  s._open = false
  s._cancel()
end

-- s:wait() -> true, or false, err (goro.errors: every error, in order).
function scope.wait(s)
  finish(s)
  s._waited = true
  if #s._errs == 0 then return true end
  return false, setmetatable(table.move(s._errs, 1, #s._errs, 1, {}), errorsmt)
end

function scope.__close(s, err)
  if err ~= nil then s._cancel(err) end
  finish(s)
  if err == nil and #s._errs > 0 and not s._waited then
    s._waited = true
    error(setmetatable(table.move(s._errs, 1, #s._errs, 1, {}), errorsmt), 0)
  end
end

function scope.__tostring(s)
  return string.format("goro.scope(%d running%s)", s._running,
                       s._open and "" or ", ended")
end

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
