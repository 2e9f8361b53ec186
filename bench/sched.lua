-- bench/sched.lua: goro's scheduler beside its anchors, in one run.
--
--   yield     G <-> G goro.yield() round trip   | 2 coroutines resumed in turn | Go: Gosched
--   pingpong  unbuffered channel round trip      | coroutine passing a value   | Go: chan
--   timeout   select on a ready channel and a    | -                           | Go: select with
--             fresh goro.after(1)                |                             |     time.After
--   spawn     goro.go + finish                   | coroutine.create + finish   | Go: go + wg
--   parked    bytes per G blocked on a channel   | per suspended coroutine     | Go: per goroutine
--   million   1,000,000 G's parked at once, then released (time, peak RSS)
--   ctxcancel with_cancel(parent) + cancel()      | -                           | Go: WithCancel
--   ctxselect select on ctx:done() and a ready    | -                           | Go: select with
--             channel                            |                             |     ctx.Done()
--   recvctx   the same as ch:recv(ctx)           | -                           | Go: the same select
--   rwlock    rw:rlock() + rw:runlock()          | 2 C method calls (floor)    | Go: RLock+RUnlock
--   once      o:call(f) after the first          | 1 C method call (floor)     | Go: Once.Do
--   scope     a scope of 1,000 G's opened and    | -                           | Go: an errgroup
--             closed (ns per scope)              |                             |     (same code)
--
-- The Lua anchor of the context and sync rows is the least Lua can do
-- for them: as many calls of a C method (string.len, through the string
-- metatable, as ch:send goes through the channel's) as goro's loop makes,
-- doing nothing. goro/anchor is then what goro adds to Lua's own calls.
--
-- Go figures come from bench/go/sched.go (GOMAXPROCS=1) when a go binary is
-- found (GO=... or PATH or /usr/lib/go-1.23/bin/go). Each figure is the best
-- of 7 rounds that alternate goro (with the coroutines) and Go, each round
-- in a fresh process. Ratios are goro / anchor: below 1 means goro is
-- faster.
-- A benchmark, not a test: nothing here asserts a time.
local goro = require "goro"

local function rss()
  local f = io.open("/proc/self/statm")
  if not f then return 0 end
  local _, res = f:read("n", "n")
  f:close()
  return res * 4096
end

-- Memory is measured in a fresh process each: `lua5.4 sched.lua parked
-- goro|coro COUNT` prints bytes per parked G (or suspended coroutine).
if arg and arg[1] == "parked" then
  local count = tonumber(arg[3])
  collectgarbage(); collectgarbage()
  local before, per = rss(), nil
  if arg[2] == "goro" then
    goro.run(function()
      local ch = goro.chan()
      local f = function() ch:recv() end
      for _ = 1, count do goro.go(f) end
      goro.yield()
      collectgarbage(); collectgarbage()
      per = (rss() - before) / count
      assert(goro.stats().stacks == 1, "parked G's hold no stack")
    end)
  else
    local cos, f = {}, function() coroutine.yield() end
    for i = 1, count do
      local co = coroutine.create(f)
      coroutine.resume(co)
      cos[i] = co
    end
    collectgarbage(); collectgarbage()
    per = (rss() - before) / count
  end
  print(("%.0f"):format(per))
  os.exit(0)
end

local N = tonumber(arg and (arg[1] == "round" and arg[2] or arg[1])) or 200000
local ROUNDS = 7

-- ns per iteration of f(n), after a warm-up run.
local function time(n, f)
  collectgarbage()
  local t = goro.now()
  f(n)
  return (goro.now() - t) * 1e9 / n
end

local function subprocess_bytes(kind, count)
  local lua = arg[-1] or "lua5.4"
  local h = io.popen(("%s %s parked %s %d"):format(lua, arg[0], kind, count))
  local v = tonumber(h:read("l"))
  h:close()
  return v
end

-- ---- the benchmarks: goro, then its Lua anchors (coroutines, floors) ---------------
local create, resume, yield = coroutine.create, coroutine.resume, coroutine.yield
local bench = {
  goro = {
    yield = function(n)
      goro.run(function()
        goro.go(function() for _ = 1, n do goro.yield() end end)
        for _ = 1, n do goro.yield() end
      end)
    end,
    pingpong = function(n)
      goro.run(function()
        local a, b = goro.chan(), goro.chan()
        goro.go(function() for _ = 1, n do b:send(a:recv()) end end)
        for i = 1, n do a:send(i); b:recv() end
      end)
    end,
    timeout = function(n)  -- a ready channel and a fresh timeout each time
      goro.run(function()
        local ch = goro.chan(1)
        for i = 1, n do
          ch:send(i)
          goro.select(ch:case_recv(), goro.after(1):case_recv())
        end
      end)
    end,
    spawn = function(n)
      goro.run(function()
        local wg = goro.waitgroup()
        local done = function() wg:done() end
        for _ = 1, n do wg:add(1); goro.go(done) end
        wg:wait()
      end)
    end,
    ctxcancel = function(n)  -- under a parent that can end: the child registers
      goro.run(function()
        local C = goro.context
        local parent, cancel_parent = C.with_cancel(C.background())
        local with_cancel = C.with_cancel
        for _ = 1, n do
          local _, cancel = with_cancel(parent)
          cancel()
        end
        cancel_parent()
      end)
    end,
    ctxselect = function(n)
      goro.run(function()
        local ctx, cancel = goro.context.with_cancel(goro.context.background())
        local ch, done = goro.chan(1), ctx:done():case_recv()
        local select = goro.select
        for i = 1, n do
          ch:send(i)
          select(ch:case_recv(), done)
        end
        cancel()
      end)
    end,
    recvctx = function(n)  -- goro's one-call form of that select
      goro.run(function()
        local ctx, cancel = goro.context.with_cancel(goro.context.background())
        local ch = goro.chan(1)
        for i = 1, n do
          ch:send(i)
          ch:recv(ctx)
        end
        cancel()
      end)
    end,
    rwlock = function(n)
      goro.run(function()
        local rw = goro.rwmutex()
        for _ = 1, n do rw:rlock(); rw:runlock() end
      end)
    end,
    once = function(n)
      goro.run(function()
        local o, f = goro.once(), function() end
        o:call(f)
        for _ = 1, n do o:call(f) end
      end)
    end,
    scope = function(n)  -- n/1000 scopes of 1,000 G's each; ns per scope
      goro.run(function()
        local f = function() end
        for _ = 1, n // 1000 do
          local s <close> = goro.scope()
          for _ = 1, 1000 do s:go(f) end
        end
      end)
    end,
  },
  coro = {
    yield = function(n)
      local f = function() while true do yield() end end
      local a, b = create(f), create(f)
      for _ = 1, n do resume(a); resume(b) end
    end,
    pingpong = function(n)
      -- the echo side is a coroutine: send = resume with a value, recv = its yield
      local echo = create(function(v) while true do v = yield(v) end end)
      for i = 1, n do
        local _, v = resume(echo, i)
        assert(v == i)
      end
    end,
    spawn = function(n)
      local f = function() end
      for _ = 1, n do resume(create(f)) end
    end,
    -- the floors: the same number of C method calls, doing nothing
    ctxselect = function(n)  -- ch:send(i); select(ch:case_recv(), done)
      local s, len = "x", string.len
      for i = 1, n do s:len(i); len(s, s:len()) end  -- (len(1) would make a string)
    end,
    recvctx = function(n)  -- ch:send(i); ch:recv(ctx)
      local s = "x"
      for i = 1, n do s:len(i); s:len(s) end
    end,
    rwlock = function(n)
      local s = "x"
      for _ = 1, n do s:len(); s:len() end
    end,
    once = function(n)
      local s, f = "x", function() end
      for _ = 1, n do s:len(f) end
    end,
  },
}
local KINDS = {"yield", "pingpong", "timeout", "spawn", "ctxcancel", "ctxselect", "recvctx",
               "rwlock", "once", "scope"}
-- ns per iteration is what time() measures; a scope's figure is per scope
local PER = {scope = 1000}

-- `lua5.4 sched.lua round N`: one round in this fresh process, after a
-- warm-up; prints "goro_<kind> ns" and "coro_<kind> ns" lines.
if arg and arg[1] == "round" then
  for _, k in ipairs(KINDS) do
    bench.goro[k](N // 10)
    if bench.coro[k] then bench.coro[k](N // 10) end
  end
  for _, k in ipairs(KINDS) do
    print(("goro_%s %.1f"):format(k, time(N, bench.goro[k]) * (PER[k] or 1)))
    if bench.coro[k] then print(("coro_%s %.1f"):format(k, time(N, bench.coro[k]))) end
  end
  os.exit(0)
end

-- ---- Go: built once, run once per round ------------------------------------------
local gobin = os.getenv("GO")
if not gobin then
  for _, p in ipairs({"/usr/lib/go-1.23/bin/go", "go"}) do
    local ok = os.execute(p .. " version >/dev/null 2>&1")
    if ok then gobin = p; break end
  end
end
local gover, goexe = nil, nil
local srcdir = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
if gobin then
  local vh = io.popen(gobin .. " version 2>/dev/null")
  gover = vh:read("l")
  vh:close()
  local tmp = os.getenv("TMPDIR") or "/tmp"
  goexe = tmp .. "/goro-bench-sched"
  local cmd = ("cd %s/go && GOCACHE=%s/goro-gocache GOFLAGS=-mod=mod %s build -o %s sched.go")
    :format(srcdir, tmp, gobin, goexe)
  if not os.execute(cmd) then goexe = nil end
end

local function go_round(fig)
  local h = io.popen(("%s %d 1 2>&1"):format(goexe, N))
  for line in h:lines() do
    local k, v = line:match("^([%w_]+) ([%d.]+)$")
    v = tonumber(v)
    if k and v and (not fig[k] or v < fig[k]) then fig[k] = v end
  end
  h:close()
end

-- Rounds alternate goro (with the coroutines) and Go, each round in a
-- fresh process, so that both see the same machine and the same luck (a
-- shared VM's speed can change by half between minutes, or processes);
-- each figure is the best of its rounds.
local g, c, gofig = {}, {}, {}
local lua = arg[-1] or "lua5.4"
for _ = 1, ROUNDS do
  local h = io.popen(("%s %s round %d"):format(lua, arg[0], N))
  for line in h:lines() do
    local who, k, v = line:match("^(%a+)_(%a+) ([%d.]+)$")
    local t = who == "goro" and g or who == "coro" and c or nil
    v = tonumber(v)
    if t and v and (not t[k] or v < t[k]) then t[k] = v end
  end
  h:close()
  if goexe then go_round(gofig) end
end

local PARKED = 100000
g.parked = subprocess_bytes("goro", PARKED)
c.parked = subprocess_bytes("coro", PARKED)

local M = 1000000
do
  collectgarbage(); collectgarbage()
  local before = rss()
  local t = goro.now()
  local peak
  goro.run(function()
    local ch = goro.chan()
    local wg = goro.waitgroup()
    local f = function() ch:recv(); wg:done() end
    for _ = 1, M do wg:add(1); goro.go(f) end
    goro.yield()
    peak = rss() - before
    ch:close()
    wg:wait()
  end)
  g.million_s = goro.now() - t
  g.million_mb = peak / 2^20
end

-- ---- report ----------------------------------------------------------------------
local function ratio(a, b) return b and b > 0 and ("%.2fx"):format(a / b) or "-" end
local function fmt(v) return v and ("%.1f"):format(v) or "-" end

print(("goro scheduler benchmarks, %d iterations, best of %d rounds in fresh processes (%s; %s)")
  :format(N, ROUNDS, _VERSION, dofile(srcdir .. "/cpu.lua")))
print(("Go: %s"):format(gover or "not found (set GO=/path/to/go)"))
print()
print(("%-30s %10s %10s %10s %12s %10s"):format("", "goro", "Lua", "Go", "goro/Lua", "goro/Go"))
local rows = {
  {"yield round trip (ns)", "yield"},
  {"chan ping-pong round trip (ns)", "pingpong"},
  {"select with a timeout (ns)", "timeout"},
  {"spawn + finish (ns)", "spawn"},
  {"with_cancel + cancel (ns)", "ctxcancel"},
  {"select on ctx:done() (ns)", "ctxselect"},
  {"ch:recv(ctx) (ns)", "recvctx", "ctxselect"},
  {"rwmutex rlock + runlock (ns)", "rwlock"},
  {"once:call after the first (ns)", "once"},
  {"scope of 1,000 G's (ns)", "scope"},
  {"bytes per parked G", "parked", "parked_bytes"},
}
for _, r in ipairs(rows) do
  local gk = r[3] or r[2]
  print(("%-30s %10s %10s %10s %12s %10s"):format(r[1], fmt(g[r[2]]), fmt(c[r[2]]),
    fmt(gofig[gk]), ratio(g[r[2]], c[r[2]]), ratio(g[r[2]], gofig[gk])))
end
print()
print(("%d G's parked at once: %.2f s to spawn, park and release; peak RSS +%.0f MiB")
  :format(M, g.million_s, g.million_mb))
