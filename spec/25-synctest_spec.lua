-- goro.synctest: bubbles of virtual time (Go's testing/synctest).
-- No assertion here reads the wall clock: the bubble's clock is exact, so
-- the specs assert virtual times and the order of events.
local goro = require "goro"
local goro_it = require "goro.busted"
local st = goro.synctest
local context = goro.context

local EPOCH = 946684800  -- 2000-01-01 00:00:00 UTC, as Go's bubbles start

describe("goro.synctest.run(f, ...)", function()
  it("runs f in a bubble whose clock starts at the epoch", goro_it(function()
    local inside, t0 = st.run(function() return st.inside(), goro.now() end)
    assert.is_true(inside)
    assert.are.equal(EPOCH, t0)
    assert.is_false(st.inside())
  end))

  it("returns f's results and passes its arguments", goro_it(function()
    local r = table.pack(st.run(function(a, b) return a + b, nil, "x" end, 1, 2))
    assert.are.same({3, nil, "x", n = 3}, r)
  end))

  it("raises f's error as f raised it", goro_it(function()
    local e = {}
    local ok, err = pcall(st.run, function() error(e) end)
    assert.is_false(ok)
    assert.are.equal(e, err)
    ok, err = pcall(st.run, function() error("boom", 0) end)
    assert.are.same({false, "boom"}, {ok, err})
  end))

  it("runs inside a goro.run of its own when called outside any G", function()
    assert.are.equal(EPOCH + 5, st.run(function()
      goro.sleep(5)
      return goro.now()
    end))
  end)

  it("checks its argument", goro_it(function()
    assert.has_error(function() st.run(42) end,
      "bad argument #1 to 'run' (function expected, got number)")
  end))

  it("is an error from within a bubble (nested)", goro_it(function()
    local ok, err = st.run(function() return pcall(st.run, function() end) end)
    assert.is_false(ok)
    assert.are.equal("goro.synctest.run: called from within a synctest bubble", err)
  end))

  it("is an error while another bubble runs in the runtime", goro_it(function()
    local release, started = goro.chan(), goro.chan()
    local g = goro.go(function()
      return st.run(function()
        started:send(true)
        release:recv()  -- a channel from outside: not durable
        return "first"
      end)
    end)
    started:recv()
    local ok, err = pcall(st.run, function() end)
    assert.is_false(ok)
    assert.are.equal("goro.synctest.run: another bubble is running in this "
                     .. "runtime (one at a time)", err)
    release:send(true)
    assert.are.same({true, "first"}, {g:wait()})
    assert.are.equal(7, st.run(function() return 7 end))  -- free again
  end))

  it("waits for every G of the bubble, not just the root", goro_it(function()
    local log = {}
    st.run(function()
      goro.go(function()
        goro.go(function() goro.sleep(3); log[#log + 1] = "grandchild" end)
        goro.sleep(2)
        log[#log + 1] = "child"
      end)
      log[#log + 1] = "root"
    end)
    assert.are.same({"root", "child", "grandchild"}, log)
  end))

  it("puts G's started by bubble G's in the bubble", goro_it(function()
    local r = st.run(function()
      local ch = goro.chan()
      goro.go(function() goro.go(function() ch:send(st.inside()) end) end)
      return ch:recv()
    end)
    assert.is_true(r)
  end))
end)

describe("virtual time", function()
  it("sleeps take no real time and move the clock exactly", goro_it(function()
    local at = st.run(function()
      local t = {}
      for i = 1, 3 do
        goro.sleep(3600)
        t[i] = goro.now() - EPOCH
      end
      return t
    end)
    assert.are.same({3600, 7200, 10800}, at)
  end))

  it("fires sleep, after, timer, ticker and context deadlines in order", goro_it(function()
    local log = st.run(function()
      local log, done = {}, goro.chan(10)
      local function note(what) log[#log + 1] = {what, goro.now() - EPOCH} end
      goro.go(function() goro.sleep(4); note("sleep 4"); done:send(1) end)
      goro.go(function() goro.after(2):recv(); note("after 2"); done:send(1) end)
      goro.go(function()
        local t = goro.timer(10)
        t:reset(3)
        t.ch:recv(); note("timer 3"); done:send(1)
      end)
      goro.go(function()
        local tk = goro.ticker(1.25)
        for _ = 1, 3 do tk.ch:recv(); note("tick") end
        tk:stop()
        done:send(1)
      end)
      goro.go(function()
        local ctx = context.with_timeout(context.background(), 3.5)
        ctx:done():recv()
        note("ctx " .. ctx:err())
        done:send(1)
      end)
      for _ = 1, 5 do done:recv() end
      return log
    end)
    assert.are.same({
      {"tick", 1.25}, {"after 2", 2}, {"tick", 2.5}, {"timer 3", 3},
      {"ctx context deadline exceeded", 3.5}, {"tick", 3.75}, {"sleep 4", 4},
    }, log)
  end))

  it("ends a context's deadline on the bubble's clock", goro_it(function()
    st.run(function()
      local ctx = context.with_timeout(context.background(), 30)
      local d = ctx:deadline()
      assert.are.equal(EPOCH + 30, d)
      local child = context.with_deadline(ctx, EPOCH + 60)  -- rides on ctx's
      assert.is_nil(ctx:err())
      assert.are.same({nil, "context deadline exceeded"}, {goro.sleep(100, child)})
      assert.are.equal(EPOCH + 30, goro.now())
      assert.are.equal("context deadline exceeded", ctx:err())
    end)
  end))

  it("a blocking call with a bubble context returns at its deadline", goro_it(function()
    st.run(function()
      local ctx = context.with_timeout(context.background(), 12)
      local v, ok, err = goro.chan():recv(ctx)
      assert.are.same({nil, false, "context deadline exceeded"}, {v, ok, err})
      assert.are.equal(EPOCH + 12, goro.now())
      local wg = goro.waitgroup()
      wg:add(1)
      ctx = context.with_timeout(context.background(), 1)
      assert.are.same({nil, "context deadline exceeded"}, {wg:wait(ctx)})
      assert.are.equal(EPOCH + 13, goro.now())
    end)
  end))

  it("a select with a timeout takes the timeout's branch at its time", goro_it(function()
    st.run(function()
      local i = goro.select(goro.chan():case_recv(), goro.after(45):case_recv())
      assert.are.equal(2, i)
      assert.are.equal(EPOCH + 45, goro.now())
    end)
  end))

  it("waitgroups, conds and g:wait made in the bubble are durable", goro_it(function()
    st.run(function()
      local wg = goro.waitgroup()
      for i = 1, 3 do
        wg:add(1)
        goro.go(function() goro.sleep(i); wg:done() end)
      end
      wg:wait()
      assert.are.equal(EPOCH + 3, goro.now())
      local g = goro.go(function() goro.sleep(2); return "g" end)
      assert.are.same({true, "g"}, {g:wait()})
      assert.are.equal(EPOCH + 5, goro.now())
      local mu = goro.mutex()
      local cv = goro.cond(mu)
      goro.go(function() goro.sleep(1); mu:lock(); cv:signal(); mu:unlock() end)
      mu:lock()
      cv:wait()
      mu:unlock()
      assert.are.equal(EPOCH + 6, goro.now())
    end)
  end))

  it("a mutex, rwmutex, once or semaphore made in the bubble is durable", goro_it(function()
    st.run(function()
      local mu, rw, sem, once = goro.mutex(), goro.rwmutex(), goro.semaphore(1), goro.once()
      mu:lock(); rw:lock(); sem:acquire(1)
      goro.go(function()  -- holds them across sleeps: the clock still moves
        goro.sleep(1); mu:unlock()
        goro.sleep(1); rw:unlock()
        goro.sleep(1); sem:release(1)
      end)
      mu:lock()
      assert.are.equal(EPOCH + 1, goro.now())
      rw:rlock()
      assert.are.equal(EPOCH + 2, goro.now())
      sem:acquire(1)
      assert.are.equal(EPOCH + 3, goro.now())
      goro.go(function() once:call(function() goro.sleep(4) end) end)
      goro.yield()
      once:call(function() error("not again") end)
      assert.are.equal(EPOCH + 7, goro.now())
    end)
  end))

  it("a mutex made outside the bubble is not durable", goro_it(function()
    local mu = goro.mutex()
    mu:lock()
    goro.go(function() goro.sleep(0.01); mu:unlock() end)  -- real time
    local at = st.run(function()
      goro.go(function() goro.sleep(50) end)
      mu:lock()
      return goro.now() - EPOCH
    end)
    assert.are.equal(0, at)
  end))

  it("goro.now() outside the bubble is real time meanwhile", goro_it(function()
    local t0 = goro.now()
    local outside = {}
    local stop = goro.chan()
    goro.go(function()  -- outside the bubble, it sees the real clock
      while not goro.select(stop:case_recv(), goro.default) or false do
        outside[#outside + 1] = goro.now()
        goro.yield()
        if #outside > 1e6 then break end
      end
    end)
    local inside = st.run(function()
      goro.sleep(10000)
      return goro.now()
    end)
    stop:close()
    local t1 = goro.now()
    assert.are.equal(EPOCH + 10000, inside)
    assert.is_true(t1 - t0 < 1000)  -- the real clock did not jump with it
    assert.is_true(t0 < EPOCH and t1 >= t0)
    for _, t in ipairs(outside) do assert.is_true(t >= t0 and t <= t1) end
  end))

  it("moves on while G's outside it hand off to each other", goro_it(function()
    -- a ping-pong outside the bubble runs G after G on one carrier,
    -- never idle: the bubble must still move at those scheduling points
    local ping, pong, stop = goro.chan(), goro.chan(), false
    goro.go(function() while not stop do ping:send(1); pong:recv() end end)
    goro.go(function() while not stop do ping:recv(); pong:send(1) end end)
    local at = st.run(function()
      for _ = 1, 100 do goro.sleep(1) end
      return goro.now() - EPOCH
    end)
    stop = true
    assert.are.equal(100, at)
  end))

  it("a G blocked on a channel made outside is not durably blocked", goro_it(function()
    local outside = goro.chan()
    goro.go(function()  -- outside the bubble: real time
      goro.sleep(0.02)
      outside:send("from outside")
    end)
    local log = st.run(function()
      local log = {}
      goro.go(function()  -- would jump the clock if the bubble were idle
        goro.sleep(1000)
        log[#log + 1] = {"sleeper", goro.now() - EPOCH}
      end)
      local v = outside:recv()  -- the bubble waits in real time for it
      log[#log + 1] = {v, goro.now() - EPOCH}
      return log
    end)
    assert.are.same({{"from outside", 0}, {"sleeper", 1000}}, log)
  end))

  it("a context made in the bubble is the bubble's, whoever waits first", goro_it(function()
    local box, got = goro.chan(1), goro.chan(1)  -- made outside
    goro.go(function()  -- outside: makes the context's done channel
      local ctx = box:recv()
      got:send(ctx:done())
    end)
    st.run(function()
      local ctx, cancel = context.with_cancel(context.background())
      box:send(ctx)
      local done = got:recv()  -- (outside: not durable, for a moment)
      goro.go(function() goro.sleep(5); cancel() end)
      done:recv()  -- durable: the channel is the bubble's
      assert.are.equal(EPOCH + 5, goro.now())
    end)
  end))

  it("the channel, timer and context of a bubble are its own", goro_it(function()
    -- made outside: a G waiting on them is not durably blocked
    local ctx, cancel = context.with_cancel(context.background())
    goro.go(function() goro.sleep(0.01); cancel() end)
    local at = st.run(function()
      goro.go(function() goro.sleep(50) end)
      ctx:done():recv()
      return goro.now() - EPOCH
    end)
    assert.are.equal(0, at)
  end))
end)

describe("goro.synctest.wait()", function()
  it("returns once every other G of the bubble is durably blocked", goro_it(function()
    st.run(function()
      local ch, state = goro.chan(), {}
      for i = 1, 3 do
        goro.go(function()
          state[i] = "started"
          ch:recv()
          state[i] = "received"
        end)
      end
      st.wait()
      assert.are.same({"started", "started", "started"}, state)
      assert.are.equal(EPOCH, goro.now())  -- wait does not move the clock
      ch:send(1)
      st.wait()
      assert.are.equal(1, #(function() local n = {} for _, s in ipairs(state) do
        if s == "received" then n[#n + 1] = s end end return n end)())
      ch:close()
      st.wait()
      assert.are.same({"received", "received", "received"}, state)
    end)
  end))

  it("waits for a G blocked outside the bubble to be durably blocked", goro_it(function()
    local outside = goro.chan()
    goro.go(function() goro.sleep(0.01); outside:send(1) end)
    st.run(function()
      local got
      local inner = goro.chan()
      goro.go(function()
        got = outside:recv()  -- not durable: wait waits on
        inner:recv()          -- durable
      end)
      st.wait()
      assert.are.equal(1, got)
      inner:close()
    end)
  end))

  it("returns at once with no other G", goro_it(function()
    assert.are.equal(EPOCH, st.run(function() st.wait(); return goro.now() end))
  end))

  it("is an error outside a bubble", goro_it(function()
    assert.has_error(function() st.wait() end,
      "goro.synctest.wait: not called from within a synctest bubble")
  end))

  it("is an error outside a goroutine", function()
    assert.has_error(function() st.wait() end,
      "goro: synctest.wait called outside a goroutine")
  end)

  it("is an error while another G of the bubble waits", goro_it(function()
    local ok, err = st.run(function()
      local release = goro.chan()
      goro.go(function() st.wait(); release:recv() end)
      goro.yield()  -- it waits now (this G is runnable: not idle)
      local r = table.pack(pcall(st.wait))
      release:close()
      return table.unpack(r)
    end)
    assert.is_false(ok)
    assert.matches("^goro%.synctest%.wait: goroutine %d+ of this bubble is waiting already$", err)
  end))
end)

describe("a deadlock in a bubble", function()
  it("raises with the dump of the bubble's G's", goro_it(function()
    local other = goro.go(function() goro.sleep(0.001) end)  -- not in it
    local ok, err = pcall(st.run, function()
      local ch = goro.chan()
      goro.go(function() ch:send(1); ch:send(2) end)
      ch:recv()
      goro.sleep(5)
      goro.waitgroup():wait()  -- n == 0: returns
      local wg = goro.waitgroup()
      wg:add(1)
      wg:wait()
    end)
    assert.is_false(ok)
    assert.matches("^goro%.synctest%.run: deadlock: all goroutines in the bubble "
                   .. "are durably blocked\n\n", err)
    assert.matches("%[chan send, [%d.]+s, durably blocked in a synctest bubble%]", err)
    assert.matches("%[waitgroup, [%d.]+s, durably blocked in a synctest bubble%]", err)
    assert.not_matches("goroutine " .. other.id .. " ", err)  -- not in the bubble
    other:wait()
  end))

  it("is reported when the root returns and the others block for good", goro_it(function()
    local ok, err = pcall(st.run, function()
      local ch = goro.chan()
      goro.go(function() goro.sleep(2); ch:recv() end)
      return "root done"
    end)
    assert.is_false(ok)
    assert.matches("^goro%.synctest%.run: deadlock", err)
    assert.matches("%[chan receive, [%d.]+s, durably blocked", err)
  end))

  it("leaves the runtime able to run another bubble", goro_it(function()
    local ok = pcall(st.run, function() goro.chan():recv() end)
    assert.is_false(ok)
    assert.are.equal(EPOCH + 1, st.run(function() goro.sleep(1); return goro.now() end))
    assert.is_false(st.inside())
  end))
end)

describe("a 60-second schedule in a bubble", function()
  -- Tickers, timeouts, a timer reset, contexts with deadlines and a
  -- parent's cancel; every event with its virtual time.
  local function schedule()
    local log = {}
    local function note(what) log[#log + 1] = ("%s@%g"):format(what, goro.now() - EPOCH) end
    local bg = context.background()
    local all, cancel_all = context.with_timeout(bg, 60)
    local fin = goro.waitgroup()
    local function spawn(f) fin:add(1); goro.go(function() f(); fin:done() end) end
    spawn(function()  -- a ticker every 7 s until the minute is over
      local tk = goro.ticker(7)
      while goro.select(tk.ch:case_recv(), all:done():case_recv()) == 1 do note("tick7") end
      tk:stop()
    end)
    spawn(function()  -- a ticker every 11 s, reset to 13 s after its third
      local tk, n = goro.ticker(11), 0
      while goro.select(tk.ch:case_recv(), all:done():case_recv()) == 1 do
        n = n + 1
        note("tick11")
        if n == 3 then tk:reset(13) end
      end
    end)
    spawn(function()  -- a sleeper, six naps of 9 s, a timer reset at 18
      local t = goro.timer(45)
      for i = 1, 6 do
        goro.sleep(9)
        note("nap")
        if i == 2 then t:reset(14) end
      end
      note("timer " .. tostring(t:stop()))
    end)
    spawn(function()
      local t = goro.timer(45)
      assert(t:reset(14.5))
      t.ch:recv()
      note("timer14.5")
    end)
    spawn(function()  -- a context whose deadline ends its child's too
      local ctx = context.with_timeout(all, 25)
      local child = context.with_timeout(ctx, 40)
      child:done():recv()
      note("child " .. child:err())
    end)
    spawn(function()  -- a child cancelled by its parent's cancel at 31
      local parent, cancel = context.with_cancel(all)
      local child = context.with_timeout(parent, 50)
      spawn(function() goro.sleep(31); cancel() end)
      local v, ok, err = goro.chan():recv(child)
      note("recv " .. tostring(ok) .. " " .. err)
    end)
    spawn(function()  -- an after that loses to a context, one that wins
      local ctx = context.with_timeout(all, 5)
      local i = goro.select(goro.after(6):case_recv(), ctx:done():case_recv())
      note("select " .. i)
      i = goro.select(goro.after(50):case_recv(), all:done():case_recv())
      note("select " .. i)
    end)
    spawn(function()
      all:done():recv()
      note("all " .. all:err())
    end)
    fin:wait()
    cancel_all()
    note("end")
    return log
  end

  it("runs in virtual time in the order real time would", goro_it(function()
    local wall = os.clock()
    local log = st.run(schedule)
    print(("\n  60 s schedule in %.3f s of CPU time"):format(os.clock() - wall))
    assert.are.same({
      "select 2@5", "tick7@7", "nap@9", "tick11@11", "tick7@14",
      "timer14.5@14.5", "nap@18", "tick7@21", "tick11@22",
      "child context deadline exceeded@25", "nap@27", "tick7@28",
      "recv false context canceled@31", "tick11@33", "tick7@35", "nap@36",
      "tick7@42", "nap@45", "tick11@46", "tick7@49", "nap@54",
      -- (the timer reset at 18 fired at 32 unreceived: stop drops it)
      "timer true@54", "select 1@55", "tick7@56", "tick11@59",
      "all context deadline exceeded@60", "end@60",
    }, log)
    -- every event in the order of its time
    local last = -1
    for _, e in ipairs(log) do
      local t = tonumber(e:match("@(.*)$"))
      assert.is_true(t >= last, e)
      last = t
    end
  end))
end)

describe("goro_it({synctest = true}, f)", function()
  it("runs a spec of a 30 s timeout at once", goro_it({synctest = true}, function()
    assert.is_true(st.inside())
    local ctx = context.with_timeout(context.background(), 30)
    local t0 = goro.now()
    assert.are.same({nil, false, "context deadline exceeded"}, {goro.chan():recv(ctx)})
    assert.are.equal(30, goro.now() - t0)
  end))

  it("reports a deadlock in the bubble as a failure at the spec's line", function()
    local ok, err = pcall(goro_it({synctest = true}, function() goro.chan():recv() end))
    assert.is_false(ok)
    assert.are.equal("failure", debug.getmetatable(err).__type)
    assert.matches("^[^\n]*25%-synctest_spec.lua:%d+: goro%.synctest%.run: deadlock", tostring(err))
    assert.matches("goroutines of the bubble:", tostring(err))
    assert.matches("%[chan receive, [%d.]+s, durably blocked", tostring(err))
  end)

  it("reports a failed assertion as usual", function()
    local ok, err = pcall(goro_it({synctest = true}, function()
      goro.sleep(1)
      assert.are.equal(1, 2)
    end))
    assert.is_false(ok)
    assert.matches("Expected objects to be equal", tostring(err))
  end)
end)
