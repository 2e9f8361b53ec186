-- goro.now, goro.sleep, goro.after, goro.ticker.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.now()", function()
  it("is monotonic seconds as a float", function()
    local a = goro.now()
    local b = goro.now()
    assert.are.equal("float", math.type(a))
    assert.is_true(b >= a)
  end)
end)

describe("goro.sleep(s)", function()
  it("parks the G for at least s seconds", function()
    local dt = goro.run(function()
      local t = goro.now()
      goro.sleep(0.03)
      return goro.now() - t
    end)
    assert.is_true(dt >= 0.03, "slept " .. dt)
  end)

  it("wakes sleepers in order of their deadlines", function()
    local order = goro.run(function()
      local ch = goro.chan(3)
      for _, d in ipairs({0.03, 0.01, 0.02}) do
        goro.go(function() goro.sleep(d); ch:send(d) end)
      end
      return {(ch:recv()), (ch:recv()), (ch:recv())}
    end)
    assert.are.same({0.01, 0.02, 0.03}, order)
  end)

  it("returns at once for a non-positive duration", function()
    assert.is_true(goro.run(function() goro.sleep(0); goro.sleep(-1); return true end))
  end)

  it("lets other G's run meanwhile", function()
    local n = goro.run(function()
      local n = 0
      goro.go(function() for _ = 1, 100 do n = n + 1; goro.yield() end end)
      goro.sleep(0.02)
      return n
    end)
    assert.are.equal(100, n)
  end)

  it("raises outside a goroutine and on bad input", function()
    assert.matches("goro: sleep called outside a goroutine", h.errmsg(goro.sleep, 1))
    assert.matches("bad argument #1 to 'goro.sleep' %(number expected",
      h.errmsg(goro.sleep, "x"))
  end)
end)

describe("goro.after(s)", function()
  it("returns a channel that receives the time once, s seconds later", function()
    local dt, v = goro.run(function()
      local t = goro.now()
      local ch = goro.after(0.02)
      local v = ch:recv()
      return goro.now() - t, v
    end)
    assert.is_true(dt >= 0.02)
    assert.are.equal("float", math.type(v))
  end)

  it("makes a timeout in select", function()
    local i = goro.run(function()
      return (goro.select(goro.chan():case_recv(), goro.after(0.01):case_recv()))
    end)
    assert.are.equal(2, i)
  end)

  it("checks its argument", function()
    assert.matches("bad argument #1 to 'after' %(number expected, got string%)",
      h.errmsg(goro.after, "1"))
  end)
end)

describe("goro.ticker(s)", function()
  it("ticks every s seconds until stopped", function()
    local n, after = goro.run(function()
      local t = goro.ticker(0.01)
      local n = 0
      for _ = 1, 3 do t.ch:recv(); n = n + 1 end
      t:stop()
      goro.sleep(0.03)
      local i = goro.select(t.ch:case_recv(), goro.default)
      return n, i
    end)
    assert.are.equal(3, n)
    assert.are.equal(2, after, "no tick after stop")
  end)

  it("rejects a non-positive interval", function()
    assert.matches("non%-positive interval", h.errmsg(goro.ticker, 0))
  end)
end)
