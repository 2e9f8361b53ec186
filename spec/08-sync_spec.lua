-- goro.mutex() and goro.waitgroup(): Go's sync.Mutex and sync.WaitGroup.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.mutex()", function()
  it("gives the lock to one G at a time, in arrival order", function()
    local log = goro.run(function()
      local mu, log, wg = goro.mutex(), {}, goro.waitgroup()
      mu:lock()
      for i = 1, 3 do
        wg:add(1)
        goro.go(function()
          mu:lock(); log[#log + 1] = i; goro.yield(); mu:unlock(); wg:done()
        end)
      end
      goro.yield()
      log[#log + 1] = "main"
      mu:unlock()
      wg:wait()
      return table.concat(log, " ")
    end)
    assert.are.equal("main 1 2 3", log)
  end)

  it("trylock takes a free lock and fails on a held one", function()
    local mu = goro.mutex()
    assert.is_true(mu:trylock())
    assert.is_false(mu:trylock())
    mu:unlock()
    assert.is_true(mu:trylock())
  end)

  it("raises 'sync: unlock of unlocked mutex'", function()
    local mu = goro.mutex()
    assert.matches("sync: unlock of unlocked mutex", h.errmsg(mu.unlock, mu))
  end)

  it("may be unlocked by another G than the one that locked it, as in Go", function()
    local order = goro.run(function()
      local mu, order = goro.mutex(), {}
      mu:lock()
      goro.go(function() order[#order + 1] = "unlock"; mu:unlock() end)
      mu:lock()
      order[#order + 1] = "locked"
      return order
    end)
    assert.are.same({"unlock", "locked"}, order)
  end)

  it("raises outside a goroutine when lock would block", function()
    local mu = goro.mutex()
    mu:lock()
    assert.matches("goro: lock called outside a goroutine", h.errmsg(mu.lock, mu))
  end)
end)

describe("goro.waitgroup()", function()
  it("wait blocks until the counter drops to zero", function()
    local n = goro.run(function()
      local wg, n = goro.waitgroup(), 0
      for _ = 1, 10 do
        wg:add(1)
        goro.go(function() goro.sleep(0.001); n = n + 1; wg:done() end)
      end
      wg:wait()
      return n
    end)
    assert.are.equal(10, n)
  end)

  it("wait returns at once at zero", function()
    assert.is_true(goro.run(function() goro.waitgroup():wait(); return true end))
  end)

  it("can be used again once its counter is back to zero", function()
    local n = goro.run(function()
      local wg, n = goro.waitgroup(), 0
      for _ = 1, 3 do
        wg:add(2)
        for _ = 1, 2 do goro.go(function() n = n + 1; wg:done() end) end
        wg:wait()
      end
      return n
    end)
    assert.are.equal(6, n)
  end)

  it("raises outside a goroutine when wait would block", function()
    local wg = goro.waitgroup()
    wg:add(1)
    assert.matches("goro: wait called outside a goroutine", h.errmsg(wg.wait, wg))
  end)

  it("raises 'sync: negative WaitGroup counter'", function()
    local wg = goro.waitgroup()
    assert.matches("sync: negative WaitGroup counter", h.errmsg(wg.done, wg))
    wg:add(2)
    assert.matches("sync: negative WaitGroup counter", h.errmsg(wg.add, wg, -3))
    assert.are.equal(2, wg:count(), "a failed add changes nothing")
  end)

  it("raises 'sync: WaitGroup counter overflow' past the largest integer", function()
    local wg = goro.waitgroup()
    wg:add(math.maxinteger)
    assert.matches("sync: WaitGroup counter overflow", h.errmsg(wg.add, wg, 1))
    assert.are.equal(math.maxinteger, wg:count(), "a failed add changes nothing")
  end)
end)
