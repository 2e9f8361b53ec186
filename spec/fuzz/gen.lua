-- spec/fuzz/gen.lua — makes goro programs that check themselves.
--
-- gen.program(bytes) turns a string of bytes into the text of a Lua
-- program; each byte is one of the generator's choices (how many
-- scenarios, which kind, how many G's, which style of send, which
-- context...), and when the bytes run out every further choice is the
-- smallest, so a short input is a small program. That suits libFuzzer,
-- whose mutations then change one decision at a time
-- (spec/fuzz/fuzz.c); gen.seed_bytes(seed) gives the fixed-seed batch
-- its bytes from a seed.
--
-- A program runs scenarios side by side as G's of one goro.run, each
-- correct under any schedule and any preemption point, and then checks
-- (spec/fuzz/prelude.lua) that every value sent on a channel was received
-- exactly once or is still buffered, on the channel it was sent on, that
-- no value its sender withdrew (a select that chose another case, a send
-- on a closed channel) arrived, and that each scenario's own checks held (a mutex's counter, a wait
-- group's results, a failing G's error, timers' promises).
--
-- Deadlocks: a program never deadlocks unless it was made to (one in
-- twelve or so, by a "deadlock" scenario: a G blocked for good that the
-- main G waits for). Then the run must end with Go's deadlock error, after
-- every other scenario finished, and the accounting must still hold. Any
-- other deadlock, or a timeout, fails the program: a lost wake-up shows as
-- one. G's left blocked without a deadlock ("abandon") end with the run.
--
-- Scenarios:
--   hub      channels (unbuffered or buffered) with producers, consumers
--            and a closer, or consumers that take a fixed count and leave
--            the rest buffered; one G may select over several channels,
--            and a plain coroutine may receive for several G's in turn
--   close    a channel closed while senders may be blocked on it: their
--            sends fail with "send on closed channel", their values count
--            as never sent; closing twice fails
--   mutex    G's increment a shared counter under a mutex (lock or trylock),
--            blocking and yielding inside the critical section
--   wg       workers and several waiters on one wait group
--   fail     G's that fail (string, table or runtime error), caught by g:wait
--   nil      nil values over a channel, counted
--   timers   sleep, after, timer stop/reset, ticker
--   exchange G's that send and receive on one channel in one select
--   wait     several G's waiting for the results of one
--   timer_race  several G's waiting on one timer's channel: one wins
--   crowd    many G's taking one value each
--   abandon  a G blocked for good, left to the end of the run
--   deadlock a G blocked for good that the main G waits for
-- Every blocking operation may run inside contexts (prelude.lua, W): pcall,
-- a plain coroutine, a table.sort comparator, metamethods called from Lua
-- and from C, __close, load's reader, a debug hook, 60 Lua frames down.
-- Between operations: yields (goro's and a bare coroutine.yield), sleeps,
-- collections, goro.dump and goro.stats, a user's count hook left set,
-- garbage whose finalizer sends a value (itself or from a new G) or tries
-- to block, and now and then a 12 ms spin that sysmon preempts.
--
-- By hand: `lua5.4 spec/fuzz/gen.lua SEED > p.lua` writes the program of a
-- seed of the batch (`--file F`: of an input file), which runs with
--   LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;' \
--   LUA_CPATH='build/lua/?.so;;' lua5.4 p.lua
-- and returns "ok" (then: made to deadlock, values sent, received, left).
local gen = {}

-- ---- choices -----------------------------------------------------------------

local function chooser(bytes)
  local pos = 0
  local B = {}
  function B.byte()
    pos = pos + 1
    return bytes:byte(pos) or 0
  end
  function B.int(lo, hi)  -- lo..hi; lo once the bytes run out
    if hi <= lo then return lo end
    local x = B.byte()
    if hi - lo >= 256 then x = x * 256 + B.byte() end
    return lo + x % (hi - lo + 1)
  end
  function B.pick(list) return list[B.int(1, #list)] end
  function B.chance(n)  -- n in 256; false once the bytes run out
    return B.byte() >= 256 - n
  end
  function B.used() return pos end
  return B
end

-- xorshift64*: the batch's bytes from a seed, the same on every machine.
function gen.seed_bytes(seed, n)
  local x = seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D
  if x == 0 then x = 1 end
  local out = {}
  for i = 1, n or 4096 do
    x = x ~ (x >> 12)
    x = x ~ (x << 25)
    x = x ~ (x >> 27)
    out[i] = string.char(((x * 0x2545F4914F6CDD1D) >> 56) & 0xff)
  end
  return table.concat(out)
end

-- ---- text --------------------------------------------------------------------

local function block()
  return {lines = {}}
end

local function put(b, depth, fmt, ...)
  b.lines[#b.lines + 1] = string.rep("  ", depth) .. fmt:format(...)
end

local function append(into, b)
  for _, l in ipairs(b.lines) do into.lines[#into.lines + 1] = l end
end

local function shuffle(B, list)
  for i = #list, 2, -1 do
    local j = B.int(1, i)
    list[i], list[j] = list[j], list[i]
  end
  return list
end

local CONTEXTS = {"pcall", "xpcall", "coro", "sort", "index", "add", "close",
                  "tostring", "gsub", "concat", "load", "hook", "deep"}

-- A context list as Lua text: mostly none, sometimes one to three deep.
-- At most one "hook": a hook does not fire inside another hook.
local function ctx(B)
  local depth = B.pick({0, 0, 0, 1, 1, 2, 2, 3})
  local names, hooked = {}, false
  for i = 1, depth do
    local w = B.pick(CONTEXTS)
    if w == "hook" and hooked then w = "coro" end
    hooked = hooked or w == "hook"
    names[i] = ("%q"):format(w)
  end
  return "{" .. table.concat(names, ", ") .. "}"
end

-- ---- the program's counters --------------------------------------------------

local function state(B)
  return {B = B, chan = 0, id = 0, log = 0, scen = 0, flag = 0, want = {},
          deadlock = false}
end

local function next_of(S, what)
  S[what] = S[what] + 1
  return S[what]
end

-- Now and then, something between two operations at a G's top level
-- (sometimes in contexts; a bare coroutine.yield never). "fin" leaves
-- garbage whose finalizer sends value id (or has a new G send it), or
-- tries to block; "uhook" sets a count hook for the rest of the G.
local function noise(S, b, depth)
  local B = S.B
  if B.chance(90) then
    local kind = B.pick({"yield", "yield", "sleep", "sleep0", "gc", "gcstep",
                         "coyield", "yield", "sleep", "gcstep", "dump", "stats",
                         "fin", "fin", "uhook"})
    if B.chance(3) then kind = "spin" end
    if kind == "fin" then
      put(b, depth, "A:fin(%d, %q)", next_of(S, "id"), B.pick({"send", "go", "block"}))
    elseif kind ~= "coyield" and kind ~= "uhook" and B.chance(64) then
      put(b, depth, "A.noise(%q, %s)", kind, ctx(B))
    else
      put(b, depth, "A.noise(%q)", kind)
    end
  end
end

-- A G of a scenario: counted by the scenario's wait group `inner`.
local function g_block(lines_fn)
  local b = block()
  put(b, 1, "goro.go(function()")
  lines_fn(b, 2)
  put(b, 2, "inner:done()")
  put(b, 1, "end)")
  return b
end

-- A new channel of the scenario, its capacity one of caps: its number.
local function new_chan(S, b, caps)
  local ci = next_of(S, "chan")
  put(b, 1, "A:chan(%d, %d)", ci, S.B.pick(caps))
  return ci
end

-- n G's of a scenario, added to gs: each some noise, then emit(gb, d).
local function add_gs(S, gs, n, emit)
  for _ = 1, n do
    gs[#gs + 1] = g_block(function(gb, d)
      noise(S, gb, d)
      emit(gb, d)
    end)
  end
end

-- A producer of `k` values on channel ci: returns its block.
local function producer(S, ci, k, done_wg, closing)
  local B = S.B
  return g_block(function(b, d)
    for _ = 1, k do
      local id = next_of(S, "id")
      noise(S, b, d)
      local style = B.pick({"send", "send", "timeout", "default", "never"})
      if closing then
        put(b, d, "if not A:send(%d, %d, %d, %q, %s, true) then goto out end",
            ci, id, B.int(1, 3), style, ctx(B))
      else
        put(b, d, "A:send(%d, %d, %d, %q, %s)", ci, id, B.int(1, 3), style, ctx(B))
      end
    end
    if closing then put(b, d, "::out::") end
    if done_wg then put(b, d, "%s:done()", done_wg) end
  end)
end

-- ---- scenarios ---------------------------------------------------------------
-- Each returns the lines of its driver G's body (between `wg:add(1)
-- goro.go(function()` and `wg:done() end)`, which the caller adds) and the
-- number of G's it counts in `inner`.

local scen = {}

function scen.hub(S, b, sid)
  local B = S.B
  local gs, nch, closing, ncons = {}, B.int(1, 3), {}, {}
  for _ = 1, nch do
    local ci = next_of(S, "chan")
    local cap = B.pick({0, 0, 1, 2, 4})
    put(b, 1, "A:chan(%d, %d)", ci, cap)
    local np, total, pw = B.int(1, 3), 0, "p" .. ci
    put(b, 1, "local %s = goro.waitgroup()", pw)
    put(b, 1, "%s:add(%d)", pw, np)
    for _ = 1, np do
      local k = B.int(0, 5)
      total = total + k
      gs[#gs + 1] = producer(S, ci, k, pw, false)
    end
    if B.chance(64) then  -- counted consumers; up to cap values stay
      local left = B.int(0, math.min(cap, total))
      local rest, nc = total - left, B.int(1, 2)
      for c = 1, nc do
        local k = c == nc and rest or B.int(0, rest)
        rest = rest - k
        local n = next_of(S, "log")
        gs[#gs + 1] = g_block(function(gb, d)
          put(gb, d, "A:take(%d, %d, %d, %q, %s)", ci, n, k,
              B.pick({"recv", "timeout", "default"}), ctx(B))
        end)
      end
      gs[#gs + 1] = g_block(function(gb, d)  -- the producers end
        put(gb, d, "A.ctx(%s, function() %s:wait() end)", ctx(B), pw)
      end)
    else
      closing[#closing + 1] = ci
      local twice = B.chance(64)
      gs[#gs + 1] = g_block(function(gb, d)
        put(gb, d, "A.ctx(%s, function() %s:wait() end)", ctx(B), pw)
        noise(S, gb, d)
        put(gb, d, "A:close(%d, %s)", ci, twice)
      end)
      ncons[ci] = B.int(0, 2)  -- its own consumers (0: the multi one only)
    end
  end
  local multi = {}
  if #closing >= 1 and B.chance(100) then
    for _, ci in ipairs(closing) do
      if B.chance(200) then multi[#multi + 1] = ci end
    end
  end
  local inmulti = {}
  for _, ci in ipairs(multi) do inmulti[ci] = true end
  if #multi > 0 then
    local n = next_of(S, "log")
    local list = {}
    for i, ci in ipairs(multi) do list[i] = tostring(ci) end
    gs[#gs + 1] = g_block(function(gb, d)
      put(gb, d, "A:multi({%s}, %d, %s)", table.concat(list, ", "), n, ctx(B))
    end)
  end
  for _, ci in ipairs(closing) do
    local nc = ncons[ci]
    if nc == 0 and not inmulti[ci] then nc = 1 end
    if B.chance(48) then  -- a coroutine shared by 2 or 3 G's
      local n = next_of(S, "log")
      put(b, 1, "local sg%d, smu%d = A:shared_gen(%d, %d, %q, %s), goro.mutex()", n, n, ci,
          n, B.pick({"recv", "timeout", "default"}), ctx(B))
      add_gs(S, gs, B.int(2, 3), function(gb, d)
        put(gb, d, "A.pull(sg%d, smu%d)", n, n)
      end)
      nc = nc - 1
    end
    add_gs(S, gs, nc, function(gb, d)
      put(gb, d, "A:drain_until_closed(%d, %d, %q, %s)", ci, next_of(S, "log"),
          B.pick({"recv", "recv", "timeout", "default", "iter", "cogen"}), ctx(B))
    end)
  end
  return gs
end

function scen.close(S, b, sid)
  local B = S.B
  local gs, ci = {}, new_chan(S, b, {0, 0, 1, 2})
  for _ = 1, B.int(1, 3) do gs[#gs + 1] = producer(S, ci, B.int(1, 4), nil, true) end
  for _ = 1, B.int(1, 2) do
    local n = next_of(S, "log")
    gs[#gs + 1] = g_block(function(gb, d)
      put(gb, d, "A:drain_until_closed(%d, %d, %q, %s)", ci, n,
          B.pick({"recv", "timeout", "default", "iter", "cogen"}), ctx(B))
    end)
  end
  local twice = B.chance(128)
  gs[#gs + 1] = g_block(function(gb, d)
    for _ = 1, B.int(0, 3) do noise(S, gb, d) end
    put(gb, d, "A:close(%d, %s)", ci, twice)
  end)
  return gs
end

function scen.mutex(S, b, sid)
  local B = S.B
  local gs, k = {}, next_of(S, "flag")
  local n, m = B.int(2, 4), B.int(1, 3)
  put(b, 1, "local mu = goro.mutex()")
  put(b, 1, "A.counters[%d] = 0", k)
  for _ = 1, n do
    gs[#gs + 1] = g_block(function(gb, d)
      for _ = 1, m do
        noise(S, gb, d)
        put(gb, d, "A:locked(%d, mu, %q, %s, %q)", k, B.pick({"lock", "lock", "trylock"}),
            ctx(B), B.pick({"none", "yield", "sleep", "gc", "coyield", "sleep0"}))
      end
    end)
  end
  S.after = ("A:check_mutex(%d, mu, %d)"):format(k, n * m)
  return gs
end

function scen.wg(S, b, sid)
  local B = S.B
  local gs, k = {}, next_of(S, "flag")
  local n = B.int(1, 4)
  put(b, 1, "local w = goro.waitgroup()")
  put(b, 1, "A.results[%d] = {}", k)
  if B.chance(128) then
    put(b, 1, "w:add(%d)", n)
  else
    for _ = 1, n do put(b, 1, "w:add(1)") end
  end
  for i = 1, n do
    gs[#gs + 1] = g_block(function(gb, d)
      noise(S, gb, d)
      put(gb, d, "A.results[%d][%d] = true", k, i)
      put(gb, d, "A.ctx(%s, function() w:done() end)", ctx(B))
    end)
  end
  add_gs(S, gs, B.int(1, 3), function(gb, d)
    put(gb, d, "A.ctx(%s, function() w:wait() end)", ctx(B))
    put(gb, d, "A:check_results(%d, %d, w)", k, n)
  end)
  return gs
end

function scen.fail(S, b, sid)
  local B = S.B
  local gs = {}
  for _ = 1, B.int(1, 3) do
    local k = next_of(S, "flag")
    local how = B.pick({"string", "table", "runtime"})
    gs[#gs + 1] = g_block(function(gb, d)
      put(gb, d, "local g = goro.go(function(parent)")
      noise(S, gb, d + 1)
      put(gb, d + 1, "A:fail_when_waited(%d, parent, %q, %s)", k, how, ctx(B))
      put(gb, d, "end, goro.self())")
      put(gb, d, "A.flags[%d] = true", k)
      put(gb, d, "A:check_failure(%d, %q, A.ctx(%s, function() return g:wait() end))",
          k, how, ctx(B))
      if B.chance(100) then  -- once more, long after it ended
        put(gb, d, "A:check_failure(%d, %q, g:wait())", k, how)
      end
    end)
  end
  return gs
end

scen["nil"] = function(S, b, sid)
  local B = S.B
  local k = B.int(0, 4)
  put(b, 1, "local nc = goro.chan(%d)", B.pick({0, 1, 3}))
  return {
    g_block(function(gb, d)
      put(gb, d, "A.nils(nc, %d, %q, %s)", k, B.pick({"send", "select"}), ctx(B))
    end),
    g_block(function(gb, d)
      put(gb, d, "A.count_nils(nc, %d, %q, %s)", k, B.pick({"recv", "select"}), ctx(B))
    end),
  }
end

function scen.timers(S, b, sid)
  local B = S.B
  local gs = {}
  for _ = 1, B.int(1, 2) do
    gs[#gs + 1] = g_block(function(gb, d)
      for _ = 1, B.int(1, 3) do
        noise(S, gb, d)
        put(gb, d, "A.timers(%q, %s)", B.pick({"sleep", "after", "stop", "received",
                                                "reset", "ticker"}), ctx(B))
      end
    end)
  end
  return gs
end

-- G's that send and receive on one channel in the same select.
function scen.exchange(S, b, sid)
  local B = S.B
  local gs, ci = {}, new_chan(S, b, {0, 0, 1, 3})
  for _ = 1, B.int(2, 4) do
    local ids = {}
    for i = 1, B.int(1, 5) do ids[i] = tostring(next_of(S, "id")) end
    local n = next_of(S, "log")
    gs[#gs + 1] = g_block(function(gb, d)
      noise(S, gb, d)
      put(gb, d, "A:exchange(%d, %d, {%s}, %d, %s)", ci, n, table.concat(ids, ", "),
          B.int(1, 3), ctx(B))
    end)
  end
  return gs
end

-- A G that returns, and several G's waiting for its results.
function scen.wait(S, b, sid)
  local B = S.B
  local gs, k = {}, next_of(S, "flag")
  put(b, 1, "local g%d = goro.go(function()", k)
  for _ = 1, B.int(0, 3) do noise(S, b, 2) end
  put(b, 2, "return A.returns(%d)", k)
  put(b, 1, "end)")
  add_gs(S, gs, B.int(1, 3), function(gb, d)
    put(gb, d, "A.check_returns(%d, A.ctx(%s, function() return g%d:wait() end))",
        k, ctx(B), k)
  end)
  return gs
end

-- Several G's wait on one timer's channel (goro.after or goro.timer).
function scen.timer_race(S, b, sid)
  local B = S.B
  local gs, k = {}, next_of(S, "flag")
  put(b, 1, "A.results[%d] = {}", k)
  if B.chance(128) then
    put(b, 1, "local tc, over = goro.after(0.0005), goro.chan()")
  else
    put(b, 1, "local tc, over = goro.timer(0.0005).ch, goro.chan()")
  end
  add_gs(S, gs, B.int(2, 4), function(gb, d)
    put(gb, d, "A:shared_timer(%d, tc, over, %s)", k, ctx(B))
  end)
  S.after = ("assert(A.results[%d].winners == 1, 'fuzz: a timer fired for ' .. " ..
             "tostring(A.results[%d].winners) .. ' waiters')"):format(k, k)
  return gs
end

-- Many G's, one value each.
function scen.crowd(S, b, sid)
  local B = S.B
  local gs, ci, k = {}, next_of(S, "chan"), B.int(10, 80)
  put(b, 1, "A:chan(%d, %d)", ci, B.pick({0, 1, 8}))
  gs[1] = producer(S, ci, k, nil, false)
  local style, c = B.pick({"recv", "timeout", "default"}), ctx(B)
  for _ = 1, k do
    local n = next_of(S, "log")
    gs[#gs + 1] = g_block(function(gb, d)
      put(gb, d, "A:take(%d, %d, 1, %q, %s)", ci, n, style, c)
    end)
  end
  return gs
end

-- A G blocked for good: `wg` names the wait group the main G waits on
-- (a deadlock), or nil (abandoned at the run's end).
local function blocked(S, b, wg)
  local B = S.B
  local kind = B.pick({"recv", "send", "lock", "wg", "select", "select2"})
  local id = kind == "send" and next_of(S, "id") or 0
  if wg then put(b, 1, "%s:add(1)", wg) end
  put(b, 1, "goro.go(function() A:block(%q, %s, %d) end)", kind, ctx(B), id)
end

-- ---- the program -------------------------------------------------------------

local KINDS = {"hub", "hub", "hub", "close", "mutex", "wg", "fail", "nil",
               "timers", "abandon", "hub", "close", "exchange", "wait", "timer_race",
               "crowd", "exchange"}

-- The text of the program the bytes choose. `label` goes in its header.
function gen.program(bytes, label)
  local B = chooser(bytes)
  local S = state(B)
  local main = block()
  local nscen = B.int(1, 5)
  local scenarios = {}
  for _ = 1, nscen do scenarios[#scenarios + 1] = B.pick(KINDS) end
  local deadlock = B.chance(22)
  for _, kind in ipairs(scenarios) do
    local sid = next_of(S, "scen")
    if kind == "abandon" then
      put(main, 0, "-- scenario %d: abandon", sid)
      blocked(S, main, nil)
    else
      local drv = block()
      S.after = nil
      local gs = scen[kind](S, drv, sid)
      S.want[#S.want + 1] = sid
      put(main, 0, "-- scenario %d: %s", sid, kind)
      put(main, 0, "wg:add(1)")
      put(main, 0, "goro.go(function()")
      append(main, drv)
      put(main, 1, "local inner = goro.waitgroup()")
      put(main, 1, "inner:add(%d)", #gs)
      for _, g in ipairs(shuffle(B, gs)) do append(main, g) end
      put(main, 1, "A.ctx(%s, function() inner:wait() end)", ctx(B))
      if S.after then put(main, 1, "%s", S.after) end
      put(main, 1, "A.done[%d] = true", sid)
      put(main, 1, "wg:done()")
      put(main, 0, "end)")
    end
  end
  if deadlock then
    put(main, 0, "-- and a deadlock")
    blocked(S, main, "wg")
  end
  local out = block()
  put(out, 0, "-- goro fuzz program (spec/fuzz/gen.lua) %s", label or "")
  put(out, 0, "-- %d choices; scenarios: %s%s", B.used(), table.concat(scenarios, ", "),
      deadlock and "; ends in a deadlock" or "")
  put(out, 0, "local goro = require \"goro\"")
  put(out, 0, "local A = require(\"fuzz.prelude\").new()")
  local want = {}
  for i, s in ipairs(S.want) do want[i] = tostring(s) end
  put(out, 0, "A.want = {%s}", table.concat(want, ", "))
  put(out, 0, "local function main()")
  put(out, 1, "local wg = goro.waitgroup()")
  put(out, 1, "A:chan(0, 4096)  -- what finalizers send")
  for _, l in ipairs(main.lines) do put(out, 1, "%s", l) end
  put(out, 1, "A.ctx(%s, function() wg:wait() end)", ctx(B))
  put(out, 0, "end")
  put(out, 0, "local ok, err = pcall(goro.run, {timeout = 20, dump = true}, main)")
  put(out, 0, "A.over = true  -- finalizers from now on do nothing")
  put(out, 0, "return \"ok\", %s, A:finish(ok, err, %s)", deadlock, deadlock)
  return table.concat(out.lines, "\n") .. "\n"
end

-- ---- by hand -----------------------------------------------------------------

if arg and arg[0] and arg[0]:find("gen%.lua$") and not package.loaded["fuzz.gen"] then
  if arg[1] == "--file" and arg[2] then
    local f = assert(io.open(arg[2], "rb"))
    local bytes = f:read("a")
    f:close()
    io.write(gen.program(bytes, "from " .. arg[2]))
  elseif tonumber(arg[1]) then
    io.write(gen.program(gen.seed_bytes(tonumber(arg[1])), "seed " .. arg[1]))
  else
    io.stderr:write("usage: lua5.4 spec/fuzz/gen.lua SEED | --file INPUT\n")
    os.exit(2)
  end
end

return gen
