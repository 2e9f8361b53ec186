-- goro.config, goro.stats and goro.dump: what a user can ask the runtime.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.config()", function()
  it("reports and sets the number of worker M's", function()
    local old = goro.config().workers
    assert.are.equal(2, goro.config{workers = 2}.workers)
    assert.are.equal(2, goro.config().workers)
    goro.config{workers = old}
  end)

  it("rejects bad values", function()
    assert.matches("workers must be an integer in", h.errmsg(goro.config, {workers = -1}))
    assert.matches("workers must be an integer in", h.errmsg(goro.config, {workers = "2"}))
    assert.matches("bad argument #1 to 'goro.config' %(table expected",
      h.errmsg(goro.config, 5))
  end)
end)

describe("goro.stats()", function()
  it("has the fields the runtime promises", function()
    local s = goro.stats()
    for _, k in ipairs({"gs", "runnable", "ms", "idle_ms", "extra_ms",
                        "extra_ms_in_use", "stacks"}) do
      assert.are.equal("integer", math.type(s[k]), k)
    end
  end)

  it("counts live and runnable G's and the M running them", function()
    local s = goro.run(function()
      goro.go(function() end)
      goro.go(function() goro.chan():recv() end)
      return goro.stats()
    end)
    assert.are.equal(3, s.gs)
    assert.are.equal(2, s.runnable)
    -- (workers an earlier run started stay, idle: ms counts them too)
    assert.are.equal(1, s.ms - s.idle_ms, "the thread in goro.run")
    assert.are.equal(1, s.stacks, "the running main G")
  end)
end)

describe("goro.dump()", function()
  it("lists every G with its status, wait reason and traceback", function()
    local d = goro.run(function()
      local ch = goro.chan()
      goro.go(function() ch:recv() end)
      goro.go(function() goro.sleep(10) end)
      goro.yield()
      return goro.dump()
    end)
    assert.matches("goroutine %d+ %[running%]:", d)
    assert.matches("goroutine %d+ %[chan receive, [%d.]+s%]:", d)
    assert.matches("goroutine %d+ %[sleep, [%d.]+s%]:", d)
    assert.matches("in method 'recv'", d)
    assert.matches("created by goro.go at .*12%-config_stats_spec.lua:%d+", d)
  end)

  it("names each wait reason", function()
    local d = goro.run(function()
      local mu, wg = goro.mutex(), goro.waitgroup()
      mu:lock()
      wg:add(1)
      local gate = goro.chan()
      local g = goro.go(function() gate:recv() end)
      goro.go(function() goro.chan():send(1) end)
      goro.go(function() goro.select(goro.chan():case_recv(), goro.chan():case_send(1)) end)
      goro.go(function() mu:lock() end)
      goro.go(function() wg:wait() end)
      goro.go(function() g:wait() end)
      goro.yield()
      return goro.dump()
    end)
    for _, reason in ipairs({"chan send", "select", "mutex", "waitgroup", "wait"}) do
      assert.matches("goroutine %d+ %[" .. reason .. ", [%d.]+s%]:", d)
    end
  end)
end)
