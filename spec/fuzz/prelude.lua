-- spec/fuzz/prelude.lua — what every program spec/fuzz/gen.lua makes runs
-- on: the operations it strings together, the contexts it runs them in,
-- and the accounting the program checks itself against.
--
-- A program is a set of G's that can be preempted anywhere (sysmon asks a
-- G that has run 10 ms to yield, at any Lua instruction), so nothing here
-- counts in a shared cell without the program's own mutex: every cell of
-- the accounting is written by one site only, named by a number the
-- generator handed out (a value's id, a receiver's log, a scenario).
--
-- The accounting, per value (unique ids, each offered on one channel):
--   offered[id]   = channel number, set before the send starts
--   committed[id] = true once the send returned, or its select case won
--   withdrawn[id] = true once its sender knows it was not sent (the select
--                   chose another case, the channel was closed)
--   logs[n]       = {id, channel, id, channel, ...}, what receiver n got
--   left          = what the channels still buffer when the program ends
-- and at the end (check): each id is received or left exactly once, on
-- the channel it was offered on; every committed id is; no id that was
-- never offered is. A value offered and not committed is one whose
-- sender is still blocked (abandoned), chose another select case, or
-- found the channel closed: it must not have arrived either, unless its
-- sender was abandoned in the instant between the hand-over and its
-- commit, which the programs rule out (see gen.lua: everything that
-- sends is waited for, or sends on a channel nobody receives from).
local goro = require "goro"

local P = {}
local A = {}
A.__index = A

function P.new()
  return setmetatable({
    offered = {}, committed = {}, withdrawn = {}, logs = {}, chans = {}, closed = {},
    left = {}, done = {}, want = {}, counters = {}, flags = {}, results = {},
  }, A)
end

-- ---- values ------------------------------------------------------------------

-- A value in one of three forms, each carrying its id: a number, a string,
-- a table (which only the channel holds while it is buffered: the
-- collector must leave it alone).
function A.val(id, form)
  if form == 2 then return "v" .. id end
  if form == 3 then return {id = id} end
  return id
end

function A.id(v)
  local t = type(v)
  if t == "number" then return v end
  if t == "string" then return tonumber(v:sub(2)) end
  if t == "table" then return v.id end
  error("fuzz: a value of type " .. t .. " arrived", 0)
end

-- ---- contexts ----------------------------------------------------------------
-- Each runs f() somewhere a G may block and returns f's results. Where Lua
-- can yield across (pcall, a metamethod called from Lua, __close), a park
-- is stackless; under a C call that cannot yield (table.sort, tostring,
-- string.gsub, table.concat, load's reader) or on another coroutine, it
-- is stackful.

local pack, unpack = table.pack, table.unpack

local function rethrow(r)
  if not r[1] then error(r[2], 0) end
  return unpack(r, 2, r.n)
end

local W = {}
A.W = W

function W.pcall(f) return rethrow(pack(pcall(f))) end

function W.xpcall(f)
  return rethrow(pack(xpcall(f, function(e) return e end)))
end

function W.coro(f)  -- a plain coroutine inside the G
  local co = coroutine.create(f)
  return rethrow(pack(coroutine.resume(co)))
end

function W.sort(f)  -- the comparator blocks, once
  local r
  local t = {3, 1, 2}
  table.sort(t, function(a, b)
    if r == nil then r = pack(pcall(f)) end
    return a < b
  end)
  return rethrow(r)
end

function W.index(f)  -- __index, called from Lua
  local p = setmetatable({}, {__index = function() return pack(pcall(f)) end})
  return rethrow(p.x)
end

function W.add(f)  -- __add, called from Lua
  local p = setmetatable({}, {__add = function() return pack(pcall(f)) end})
  return rethrow(p + 1)
end

function W.close(f)  -- __close, at the end of the block
  local r
  do
    local _ <close> = setmetatable({}, {__close = function() r = pack(pcall(f)) end})
  end
  return rethrow(r)
end

function W.tostring(f)  -- __tostring, called from C
  local r
  tostring(setmetatable({}, {__tostring = function()
    r = pack(pcall(f))
    return "p"
  end}))
  return rethrow(r)
end

function W.gsub(f)  -- a replacement function, called from C
  local r
  string.gsub("a", "a", function() r = pack(pcall(f)) end)
  return rethrow(r)
end

function W.concat(f)  -- __index, called from C through lua_geti
  local r
  table.concat(setmetatable({}, {
    __len = function() return 1 end,
    __index = function()
      if r == nil then r = pack(pcall(f)) end
      return "x"
    end,
  }))
  return rethrow(r)
end

function W.load(f)  -- load's reader, called from C
  local r
  load(function()
    if r == nil then
      r = pack(pcall(f))
      return "return"
    end
  end)
  return rethrow(r)
end

function W.hook(f)  -- a debug hook (a count hook, on this thread)
  local r
  debug.sethook(function()
    if r == nil then r = pack(pcall(f)) end
  end, "", 1)
  local spins = 0
  while r == nil do spins = spins + 1 end
  debug.sethook()
  return rethrow(r)
end

function W.deep(f)  -- 60 Lua frames deeper (not tail calls)
  local function down(n)
    if n == 0 then return pack(pcall(f)) end
    local r = down(n - 1)
    return r
  end
  return rethrow(down(60))
end

-- Run f in the contexts named by ctx (a list, outermost first).
function A.ctx(ctx, f, i)
  i = i or 1
  local w = ctx[i]
  if w == nil then return f() end
  return W[w](function() return A.ctx(ctx, f, i + 1) end)
end

-- ---- noise between operations ----------------------------------------------

local function noise(kind)
  if kind == "yield" then
    goro.yield()
  elseif kind == "sleep" then
    goro.sleep(0.0002)
  elseif kind == "sleep0" then
    goro.sleep(0)
  elseif kind == "gc" then
    collectgarbage()
  elseif kind == "gcstep" then
    collectgarbage("step")
  elseif kind == "coyield" then  -- a bare yield at a G's top level
    coroutine.yield()
  elseif kind == "spin" then  -- long enough for sysmon to preempt
    local t = goro.now()
    while goro.now() - t < 0.012 do end
  elseif kind == "dump" then  -- every G's traceback, parked ones included
    assert(type(goro.dump()) == "string")
  elseif kind == "stats" then
    assert(goro.stats().gs >= 1)
  elseif kind == "uhook" then  -- the user's own hook, kept across parks
    local n = 0
    debug.sethook(function() n = n + 1 end, "", 997)
  end
end

-- Something between two operations; in contexts, but for "coyield" (a bare
-- yield must be at the G's top level: the generator sees to it).
function A.noise(kind, ctx)
  if ctx == nil or kind == "coyield" then return noise(kind) end
  A.ctx(ctx, function() noise(kind) end)
end

-- ---- channels ----------------------------------------------------------------

function A:chan(ci, cap)
  local c = goro.chan(cap)
  self.chans[ci] = c
  return c
end

local T = 0.0003  -- the timeouts of selects: short, so that they fire

-- Send value id (in form `form`) on channel ci, in contexts ctx, by style.
-- With `closing`, the channel may be closed under it: then the send must
-- fail with Go's message, and the value counts as never sent.
function A:send(ci, id, form, style, ctx, closing)
  local c = self.chans[ci]
  self.offered[id] = ci
  local function body()
    local v = A.val(id, form)
    if style == "send" then
      c:send(v)
    elseif style == "timeout" then
      while goro.select(c:case_send(v), goro.after(T):case_recv()) ~= 1 do end
    elseif style == "default" then
      -- Polls, and waits a while between polls: two sides that only polled
      -- would never meet on an unbuffered channel (in Go neither).
      while goro.select(goro.default, c:case_send(v)) ~= 2 do
        if goro.select(c:case_send(v), goro.after(T):case_recv()) == 1 then break end
      end
    elseif style == "never" then  -- with a case that is never ready
      local never = goro.chan()
      assert(goro.select(never:case_recv(), c:case_send(v)) == 2)
    else
      error("fuzz: send style " .. tostring(style), 0)
    end
  end
  if closing then
    local ok, e = pcall(A.ctx, ctx, body)
    if not ok then
      if type(e) ~= "string" or not e:find("send on closed channel", 1, true) then
        error(e, 0)
      end
      self.withdrawn[id] = true
      return false
    end
  else
    A.ctx(ctx, body)
  end
  self.committed[id] = true
  return true
end

-- Receive once from channel ci into log n. Returns false when the channel
-- is closed and drained.
function A:recv(ci, n, style, ctx)
  local c, log = self.chans[ci], self.logs[n]
  local v, ok = A.ctx(ctx, function()
    if style == "recv" then
      return c:recv()
    elseif style == "timeout" then
      while true do
        local i, v, ok = goro.select(goro.after(T):case_recv(), c:case_recv())
        if i == 2 then return v, ok end
      end
    elseif style == "default" then  -- polls, and waits between (see send)
      while true do
        local i, v, ok = goro.select(c:case_recv(), goro.default)
        if i == 1 then return v, ok end
        i, v, ok = goro.select(goro.after(T):case_recv(), c:case_recv())
        if i == 2 then return v, ok end
      end
    else
      error("fuzz: receive style " .. tostring(style), 0)
    end
  end)
  if not ok then
    if v ~= nil then error("fuzz: a failed receive gave a value", 0) end
    return false
  end
  log[#log + 1] = A.id(v)
  log[#log + 1] = ci
  return true
end

function A:log(n)
  self.logs[n] = {}
end

-- Receive from ci until it is closed. "iter" and "cogen" are loops of
-- their own: ch:iter(), and a plain coroutine that receives and yields.
function A:drain_until_closed(ci, n, style, ctx)
  self:log(n)
  if style == "iter" then
    local log = self.logs[n]
    A.ctx(ctx, function()
      for v in self.chans[ci]:iter() do
        log[#log + 1] = A.id(v)
        log[#log + 1] = ci
      end
    end)
  elseif style == "cogen" then
    local gen = coroutine.wrap(function()
      while self:recv(ci, n, "recv", ctx) do coroutine.yield(true) end
      return false
    end)
    while gen() do end
  else
    while self:recv(ci, n, style, ctx) do end
  end
end

-- Receive exactly k values from ci.
function A:take(ci, n, k, style, ctx)
  self:log(n)
  for _ = 1, k do
    if not self:recv(ci, n, style, ctx) then
      error("fuzz: channel " .. ci .. " closed under a counted receiver", 0)
    end
  end
end

-- One G receiving from several channels with one select until every one
-- is closed and drained.
function A:multi(cis, n, ctx)
  self:log(n)
  local log, open = self.logs[n], {}
  for _, ci in ipairs(cis) do open[#open + 1] = ci end
  while #open > 0 do
    local cases = {}
    for k, ci in ipairs(open) do cases[k] = self.chans[ci]:case_recv() end
    local i, v, ok = A.ctx(ctx, function() return goro.select(unpack(cases)) end)
    if ok then
      log[#log + 1] = A.id(v)
      log[#log + 1] = open[i]
    else
      table.remove(open, i)
    end
  end
end

-- Each round offers a new value and takes whichever of the three cases is
-- ready: its send, a receive from the same channel, or a timeout.
function A:exchange(ci, n, ids, form, ctx)
  self:log(n)
  local c, log = self.chans[ci], self.logs[n]
  for _, id in ipairs(ids) do
    self.offered[id] = ci
    local i, v, ok = A.ctx(ctx, function()
      return goro.select(c:case_send(A.val(id, form)), c:case_recv(),
                         goro.after(T):case_recv())
    end)
    if i == 1 then
      self.committed[id] = true
    else
      self.withdrawn[id] = true
      if i == 2 then
        if not ok then error("fuzz: an exchange channel was closed", 0) end
        log[#log + 1] = A.id(v)
        log[#log + 1] = ci
      end
    end
  end
end

-- A plain coroutine that receives from ci into log n, resumed in turn by
-- several G's (under mu): it parks inside whichever G resumed it.
function A:shared_gen(ci, n, style, ctx)
  self:log(n)
  return coroutine.wrap(function()
    while self:recv(ci, n, style, ctx) do coroutine.yield(true) end
    while true do coroutine.yield(false) end
  end)
end

function A.pull(gen, mu)
  while true do
    mu:lock()
    local more = gen()
    mu:unlock()
    if not more then return end
  end
end

function A:close(ci, twice)
  self.chans[ci]:close()
  self.closed[ci] = true
  if twice then
    local ok, e = pcall(self.chans[ci].close, self.chans[ci])
    if ok or not tostring(e):find("close of closed channel", 1, true) then
      error("fuzz: closing twice gave " .. tostring(e), 0)
    end
  end
end

-- ---- finalizers --------------------------------------------------------------

-- Garbage whose finalizer, whenever the collector runs it (in any G, or on
-- the scheduler's side), sends value id on channel 0 without blocking
-- ("send"), has a new G do so ("go"), or tries to block, which must fail
-- ("block"). Once the run is over (A.over) finalizers do nothing, so that
-- nothing is sent after the channels are drained. Errors in a finalizer
-- would be mere warnings: they are kept in finerr for finish.
function A:fin(id, how)
  setmetatable({}, {__gc = function()
    if self.over then return end
    local c = self.chans[0]
    local function send()
      if self.over then return end
      self.offered[id] = 0
      if goro.select(c:case_send(A.val(id, 1)), goro.default) == 1 then
        self.committed[id] = true
      else
        self.withdrawn[id] = true
      end
    end
    local ok, e
    if how == "send" then
      ok, e = pcall(send)
    elseif how == "go" then
      ok, e = pcall(goro.go, send)
    else
      ok, e = pcall(function() goro.chan():recv() end)
      if ok then
        ok, e = false, "a blocking receive in a finalizer went on"
      elseif tostring(e):find("__gc finalizer", 1, true) or
             tostring(e):find("outside a goroutine", 1, true) then
        ok = true
      end
    end
    if not ok and self.finerr == nil then self.finerr = tostring(e) end
  end})
end

-- ---- mutexes and wait groups ----------------------------------------------

-- counters[k] += 1 under mu, with `noise` inside the critical section.
function A:locked(k, mu, style, ctx, noise)
  A.ctx(ctx, function()
    if style == "lock" then
      mu:lock()
    else
      while not mu:trylock() do goro.yield() end
    end
  end)
  local v = self.counters[k]
  A.noise(noise)
  self.counters[k] = v + 1
  mu:unlock()
end

function A:check_mutex(k, mu, want)
  if self.counters[k] ~= want then
    error(("fuzz: mutex counter %d is %d, not %d"):format(k, self.counters[k], want), 0)
  end
  local ok, e = pcall(mu.unlock, mu)
  if ok or not tostring(e):find("sync: unlock of unlocked mutex", 1, true) then
    error("fuzz: unlocking a free mutex gave " .. tostring(e), 0)
  end
  if not mu:trylock() then error("fuzz: trylock of a free mutex failed", 0) end
  mu:unlock()
end

function A:check_results(k, n, w)
  for i = 1, n do
    if not self.results[k][i] then
      error(("fuzz: wait group %d let a waiter go before worker %d"):format(k, i), 0)
    end
  end
  if w:count() ~= 0 then error("fuzz: a waited wait group counts " .. w:count(), 0) end
  local z = goro.waitgroup()
  local ok, e = pcall(z.done, z)
  if ok or not tostring(e):find("sync: negative WaitGroup counter", 1, true) then
    error("fuzz: done on a zero wait group gave " .. tostring(e), 0)
  end
end

-- ---- nil values --------------------------------------------------------------

function A.nils(c, k, style, ctx)
  for _ = 1, k do
    A.ctx(ctx, function()
      if style == "send" then
        c:send(nil)
      elseif goro.select(c:case_send(nil)) ~= 1 then
        error("fuzz: a one-case select chose another", 0)
      end
    end)
  end
  c:close()
end

function A.count_nils(c, k, style, ctx)
  local n = 0
  while true do
    local v, ok = A.ctx(ctx, function()
      if style == "recv" then return c:recv() end
      local _, v, ok = goro.select(c:case_recv())
      return v, ok
    end)
    if not ok then break end
    if v ~= nil then error("fuzz: a nil channel gave " .. tostring(v), 0) end
    n = n + 1
  end
  if n ~= k then error(("fuzz: %d nils sent, %d received"):format(k, n), 0) end
end

-- ---- G's that fail -----------------------------------------------------------

-- The failing G waits until its parent is parked in g:wait (set `flags[k]`
-- right before it), else its error, unwaited, would stop the run.
function A:fail_when_waited(k, parent, how, ctx)
  while not (self.flags[k] and parent:status() == "waiting") do goro.yield() end
  A.ctx(ctx, function()
    if how == "string" then
      error("boom " .. k, 0)
    elseif how == "table" then
      error(self.flags, 0)  -- a table: it must arrive as itself
    else
      local t = nil
      return t.field  -- a runtime error
    end
  end)
end

function A:check_failure(k, how, ok, e)
  if ok then error("fuzz: the failing G " .. k .. " succeeded", 0) end
  local good
  if how == "string" then
    good = e == "boom " .. k
  elseif how == "table" then
    good = rawequal(e, self.flags)
  else
    good = type(e) == "string" and e:find("attempt to index", 1, true) ~= nil
  end
  if not good then
    error("fuzz: the failing G " .. k .. " (" .. how .. ") gave " .. tostring(e), 0)
  end
end

-- The results of a G that returns (nil among them), for every waiter.
function A.returns(k)
  return k, nil, "r" .. k, false
end

function A.check_returns(k, ok, a, b, c, d, ...)
  if not (ok == true and a == k and b == nil and c == "r" .. k and d == false and
          select("#", ...) == 0) then
    error(("fuzz: G %d returned %s %s %s %s %s"):format(k, tostring(ok), tostring(a),
          tostring(b), tostring(c), tostring(d)), 0)
  end
end

-- ---- timers ------------------------------------------------------------------

local EPS = 1e-6

function A.timers(kind, ctx)
  A.ctx(ctx, function()
    local t0 = goro.now()
    if kind == "sleep" then
      goro.sleep(0.0005)
      assert(goro.now() - t0 >= 0.0005 - EPS, "sleep returned early")
    elseif kind == "after" then
      local v = goro.after(0.0005):recv()
      assert(type(v) == "number" and v >= t0 + 0.0005 - EPS, "after fired early")
    elseif kind == "stop" then  -- never received: stop stops it, and no value comes
      local t = goro.timer(0.0002)
      A.noise("sleep")
      assert(t:stop() == true, "stop of an unreceived timer said false")
      assert(goro.select(t.ch:case_recv(), goro.default) == 2, "a stopped timer fired")
    elseif kind == "received" then
      local t = goro.timer(0.0002)
      t.ch:recv()
      assert(t:stop() == false, "stop of a received timer said true")
    elseif kind == "reset" then
      local t = goro.timer(10)
      local t1 = goro.now()
      assert(t:reset(0.0003) == true, "reset of a pending timer said false")
      local v = t.ch:recv()
      assert(v >= t1 + 0.0003 - EPS, "a reset timer fired early")
    elseif kind == "ticker" then
      local tk, last = goro.ticker(0.0002), 0
      for _ = 1, 3 do
        local v = tk.ch:recv()
        assert(v > last, "ticks out of order")
        last = v
      end
      tk:stop()
      goro.sleep(0.0005)
      assert(goro.select(tk.ch:case_recv(), goro.default) == 2, "a stopped ticker ticked")
    else
      error("fuzz: timer kind " .. tostring(kind), 0)
    end
  end)
end

-- Several G's wait on one timer's channel: one gets its value and closes
-- `over`, which lets the others go.
function A:shared_timer(k, t, over, ctx)
  local i = A.ctx(ctx, function()
    return goro.select(t:case_recv(), over:case_recv())
  end)
  if i == 1 then
    self.results[k].winners = (self.results[k].winners or 0) + 1
    over:close()
  end
end

-- ---- blocking for good (deadlocks, abandoned G's) ---------------------------

-- id: the value a blocked sender offers (never committed).
function A:block(kind, ctx, id)
  A.ctx(ctx, function()
    if kind == "recv" then
      goro.chan():recv()
    elseif kind == "send" then
      local c = goro.chan()
      self.chans[-id] = c  -- (drained at the end: it must stay empty)
      self.offered[id] = -id
      c:send(A.val(id, 1))
    elseif kind == "lock" then
      local mu = goro.mutex()
      mu:lock()
      mu:lock()
    elseif kind == "wg" then
      local wg = goro.waitgroup()
      wg:add(1)
      wg:wait()
    elseif kind == "select" then
      goro.select()
    elseif kind == "select2" then
      goro.select(goro.chan():case_recv(), goro.chan(1):case_recv())
    else
      error("fuzz: block kind " .. tostring(kind), 0)
    end
  end)
  error("fuzz: a G meant to block for good went on", 0)
end

-- ---- the end -----------------------------------------------------------------

-- After the run: every scenario that had to finish did; then, in a run of
-- its own, what the channels still buffer is drained; then the accounting.
function A:finish(ok, err, expect_deadlock)
  self.over = true
  if self.finerr then error("fuzz: in a finalizer: " .. self.finerr, 0) end
  if expect_deadlock then
    if ok or type(err) ~= "string" or
        not err:find("all goroutines are asleep - deadlock!", 1, true) then
      error("fuzz: expected a deadlock, got " .. tostring(ok) .. ", " .. tostring(err), 0)
    end
  elseif not ok then
    error("fuzz: the run failed: " .. tostring(err), 0)
  end
  for _, s in ipairs(self.want) do
    if not self.done[s] then error("fuzz: scenario " .. s .. " did not finish", 0) end
  end
  local left = self.left
  goro.run(function()
    for ci, c in pairs(self.chans) do
      local n, got = #c, 0
      while true do
        local i, v, okr = goro.select(c:case_recv(), goro.default)
        if i ~= 1 or not okr then break end
        left[#left + 1] = A.id(v)
        left[#left + 1] = ci
        got = got + 1
      end
      if got ~= n then
        error(("fuzz: channel %d said #ch = %d, then gave %d"):format(ci, n, got), 0)
      end
    end
  end)
  return self:account()
end

function A:account()
  local seen, nrecv, nleft, ncommit = {}, 0, 0, 0
  local function count(list, where)
    for k = 1, #list, 2 do
      local id, ci = list[k], list[k + 1]
      if self.offered[id] == nil then
        error(("fuzz: value %s %s on channel %d was never sent"):format(id, where, ci), 0)
      end
      if self.offered[id] ~= ci then
        error(("fuzz: value %s, sent on channel %d, %s on channel %d")
              :format(id, self.offered[id], where, ci), 0)
      end
      if self.withdrawn[id] then
        error(("fuzz: value %s, withdrawn by its sender, %s on channel %d")
              :format(id, where, ci), 0)
      end
      if seen[id] then
        error(("fuzz: value %s arrived twice (%s, then %s)"):format(id, seen[id], where), 0)
      end
      seen[id] = where
    end
  end
  for n, log in pairs(self.logs) do
    count(log, "received by log " .. n)
    nrecv = nrecv + #log // 2
  end
  count(self.left, "left")
  nleft = #self.left // 2
  for id in pairs(self.committed) do
    ncommit = ncommit + 1
    if not seen[id] then
      error(("fuzz: value %s was sent on channel %d and is lost")
            :format(id, self.offered[id]), 0)
    end
  end
  return ncommit, nrecv, nleft
end

return P
