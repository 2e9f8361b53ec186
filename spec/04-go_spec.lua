-- goro.go, G handles, goro.self, goro.yield.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.go(f, ...)", function()
  it("starts a G with its arguments and returns its handle", function()
    local got = goro.run(function()
      local ch = goro.chan()
      local g = goro.go(function(a, b) ch:send(a .. b) end, "x", "y")
      assert.are.equal("goro.g", getmetatable(g).__name)
      return ch:recv()
    end)
    assert.are.equal("xy", got)
  end)

  it("gives every G a distinct increasing integer id", function()
    local a, b, main = goro.run(function()
      return goro.go(function() end).id, goro.go(function() end).id,
        goro.self().id
    end)
    assert.are.equal("integer", math.type(a))
    assert.is_true(b > a and a > main)
  end)

  it("queues a G made outside a run for the next run", function()
    local ch = goro.chan(1)
    goro.go(function() ch:send("early") end)
    assert.are.equal("early", goro.run(function() return ch:recv() end))
  end)

  it("checks its argument", function()
    assert.matches("bad argument #1 to 'goro.go' %(function expected",
      h.errmsg(goro.go, "nope"))
  end)

  it("gives a G made without arguments its Lua thread when it first runs", function()
    -- A burst of goro.go costs a handle a G (about 370 bytes) until the
    -- G's run; a Lua thread with its stack would be a kilobyte more.
    -- Outside a run nothing runs, so the count is exact.
    local n, ran, threads = 20000, 0, {}
    local f = function()
      threads[coroutine.running()] = true
      ran = ran + 1
    end
    collectgarbage(); collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    for _ = 1, n do goro.go(f) end
    local per = (collectgarbage("count") - before) * 1024 / n
    collectgarbage("restart")
    assert.is_true(per < 600, ("%.0f bytes a G before it runs"):format(per))
    -- A G preempted on the way (none is natively; under qemu-user a few
    -- are) goes behind the main G: the run waits for every G.
    goro.run(function() while ran < n do goro.yield() end end)
    local distinct = 0
    for _ in pairs(threads) do distinct = distinct + 1 end
    assert.are.same({n, n, 0}, {ran, distinct, goro.stats().gs})
  end)
end)

describe("g:status()", function()
  it("is runnable, running, waiting, then dead", function()
    local seen = goro.run(function()
      local ch = goro.chan()
      local st = {}
      local g
      g = goro.go(function() st.inside = g:status(); ch:recv() end)
      st.before = g:status()
      goro.yield()
      st.parked = g:status()
      ch:send(1)
      goro.yield()
      st.after = g:status()
      return st
    end)
    assert.are.same({before = "runnable", inside = "running",
      parked = "waiting", after = "dead"}, seen)
  end)
end)

describe("g:wait()", function()
  it("blocks until the G ends and returns true and its results", function()
    local r = {goro.run(function()
      local g = goro.go(function(x) goro.sleep(0.01); return x, nil, x * 2 end, 21)
      return g:wait()
    end)}
    assert.are.same({true, 21, nil, 42}, r)
    assert.are.equal(4, select("#", table.unpack(r, 1, 4)))
  end)

  it("returns false and the error of a failed G", function()
    local ok, err = goro.run(function()
      return goro.go(function() error("bad", 0) end):wait()
    end)
    assert.is_false(ok)
    assert.are.equal("bad", err)
  end)

  it("can be called by many G's and again after the end", function()
    local r = goro.run(function()
      local g = goro.go(function() goro.sleep(0.01); return "v" end)
      local wg, n = goro.waitgroup(), 0
      for _ = 1, 5 do
        wg:add(1)
        goro.go(function() local _, v = g:wait(); if v == "v" then n = n + 1 end; wg:done() end)
      end
      wg:wait()
      local _, again = g:wait()
      return n, again
    end)
    assert.are.equal(5, r)
  end)

  it("raises outside a goroutine when it would block", function()
    local g = goro.go(function() end)  -- queued for the next run
    assert.matches("goro: wait called outside a goroutine", h.errmsg(g.wait, g))
    goro.run(function() end)
  end)

  it("refuses to wait for itself", function()
    assert.matches("cannot wait for itself", h.errmsg(goro.run, function()
      goro.self():wait()
    end))
  end)
end)

describe("goro.yield()", function()
  it("lets the other runnable G's run first, in FIFO order", function()
    local log = goro.run(function()
      local log = {}
      for i = 1, 3 do goro.go(function() log[#log + 1] = i end) end
      goro.yield()
      log[#log + 1] = "main"
      return table.concat(log, " ")
    end)
    assert.are.equal("1 2 3 main", log)
  end)

  it("treats a plain coroutine.yield at a G's top level the same way", function()
    local log = goro.run(function()
      local log = {}
      goro.go(function() log[#log + 1] = "other" end)
      coroutine.yield("dropped")
      log[#log + 1] = "main"
      return table.concat(log, " ")
    end)
    assert.are.equal("other main", log)
  end)

  it("raises outside a goroutine", function()
    assert.matches("goro: yield called outside a goroutine", h.errmsg(goro.yield))
  end)
end)

describe("a G's own Lua thread", function()
  it("is what coroutine.running() says, every time", function()
    local same, ismain = goro.run(function()
      local a, m = coroutine.running()
      goro.yield()
      return a == coroutine.running(), m
    end)
    assert.is_true(same)
    assert.is_false(ismain)
  end)

  it("cannot be resumed or closed from Lua", function()
    local r = goro.run(function()
      local ch, co = goro.chan(), nil
      local g = goro.go(function() co = coroutine.running(); return ch:recv() end)
      goro.yield()  -- g is parked in ch:recv()
      local r = {coroutine.resume(co, "stray")}
      r[3] = select(2, pcall(coroutine.close, co))
      ch:send("sent")
      r[4] = select(2, g:wait())  -- its own receive still gets the value
      r[5] = select(2, coroutine.resume(co))  -- nor after its end
      return r
    end)
    assert.is_false(r[1])
    assert.are.equal("cannot resume a goroutine's thread", r[2])
    assert.matches("cannot close a goroutine's thread", r[3])
    assert.are.equal("sent", r[4])
    assert.are.equal("cannot resume a goroutine's thread", r[5])
  end)

  it("leaves plain coroutines as Lua has them, inside G's and out", function()
    local function exercise()
      local co = coroutine.create(function(a) return coroutine.yield(a + 1) * 2 end)
      local r = {coroutine.resume(co, 1)}
      r[3], r[4] = coroutine.resume(co, 5)
      r[5], r[6] = coroutine.resume(co)
      r[7] = coroutine.close(coroutine.create(function() end))
      r[8] = select(2, pcall(coroutine.resume, 42))
      return r
    end
    local want = {true, 2, true, 10, false, "cannot resume dead coroutine", true}
    for _, r in ipairs({exercise(), goro.run(exercise)}) do
      for i = 1, 7 do assert.are.equal(want[i], r[i]) end
      assert.matches("bad argument #1 to '[%w.]*resume' %(coroutine expected", r[8])
    end
  end)
end)
