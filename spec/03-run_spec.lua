-- goro.run: the main G, its results and errors, and repeated runs.
local h = require "spec.helpers"
local goro = h.goro

describe("goro.run(f, ...)", function()
  it("runs f as the main G and returns all its results", function()
    local a, b, c = goro.run(function(x, y) return x + y, nil, "z" end, 1, 2)
    assert.are.equal(3, a)
    assert.is_nil(b)
    assert.are.equal("z", c)
  end)

  it("runs f inside a goroutine", function()
    local inside = goro.run(function() return goro.self() end)
    assert.are.equal("goro.g", getmetatable(inside).__name)
    assert.is_nil(goro.self(), "outside a run there is no current G")
  end)

  it("returns when f returns, abandoning G's still alive", function()
    local r = goro.run(function()
      goro.go(function() goro.chan():recv() end)
      goro.go(function() goro.sleep(100) end)
      goro.yield()
      return goro.stats().gs
    end)
    assert.are.equal(3, r)
    assert.are.equal(0, goro.stats().gs)
    assert.are.equal(0, goro.stats().stacks)
  end)

  it("can be called again and again without leaking G's or stacks", function()
    for i = 1, 50 do
      assert.are.equal(i, goro.run(function()
        local ch = goro.chan()
        for _ = 1, 10 do goro.go(function() ch:send(1) end) end
        goro.go(function() table.sort({3, 2, 1}, function(a, b)
          goro.yield(); return a < b end) end)
        for _ = 1, 10 do ch:recv() end
        return i
      end))
    end
    local s = goro.stats()
    assert.are.equal(0, s.gs)
    assert.are.equal(0, s.stacks)
    assert.are.equal(0, s.ms)
  end)

  it("accepts an options table first", function()
    assert.are.equal("ok", goro.run({stack_size = 2 * 1024 * 1024}, function()
      return "ok" end))
    assert.are.equal(2 * 1024 * 1024, goro.stats().stack_size)
    goro.run({stack_size = 1024 * 1024}, function() end)
  end)

  it("rejects a stack size out of range, and says the range", function()
    local f = function() end
    for _, sz in ipairs({4096, -1, 2 ^ 41, math.maxinteger}) do
      assert.matches("^goro.run: stack_size must be between 524288 bytes and 2%^40",
        h.errmsg(goro.run, {stack_size = sz}, f))
    end
  end)

  it("takes a stack size given as a float with an integer value", function()
    assert.are.equal("ok", goro.run({stack_size = 2.0 ^ 21}, function() return "ok" end))
    assert.are.equal(2 * 1024 * 1024, goro.stats().stack_size)
    goro.run({stack_size = 1024 * 1024}, function() end)
  end)

  it("names the option of the wrong type", function()
    local f = function() end
    assert.matches("^goro.run: stack_size must be an integer",
      h.errmsg(goro.run, {stack_size = "big"}, f))
    assert.matches("^goro.run: stack_size must be an integer",
      h.errmsg(goro.run, {stack_size = "1048576"}, f))
    assert.matches("^goro.run: stack_size must be an integer",
      h.errmsg(goro.run, {stack_size = 1048576.5}, f))
    assert.matches("^goro.run: timeout must be a number", h.errmsg(goro.run, {timeout = "1"}, f))
    assert.matches("^goro.run: timeout must be > 0", h.errmsg(goro.run, {timeout = 0 / 0}, f))
  end)

  it("raises the main G's error string unchanged, as pcall gives it", function()
    local function boom() error("boom") end
    local ok1, err1 = pcall(goro.run, boom)
    local ok2, err2 = pcall(boom)
    assert.are.same({false, false}, {ok1, ok2})
    assert.matches("^[^\n]*03%-run_spec.lua:%d+: boom$", err1)
    assert.are.equal(err2, err1)
    local _, err3 = pcall(goro.run, function() error("plain", 0) end)
    assert.are.equal("plain", err3)
  end)

  it("passes non-string error values through unchanged", function()
    local obj = {}
    local ok, err = pcall(goro.run, function() error(obj) end)
    assert.is_false(ok)
    assert.are.equal(obj, err)
  end)

  it("with dump = true adds the main G's traceback and the dump to a string", function()
    local err = h.errmsg(goro.run, {dump = true}, function()
      goro.go(function() goro.chan():recv() end)
      goro.yield()
      error("boom")
    end)
    assert.matches("^[^\n]*03%-run_spec.lua:%d+: boom\nstack traceback:\n", err)
    assert.matches("all goroutines at the failure:", err)
    assert.matches("%[chan receive", err)
  end)

  it("calls report with how the run failed before it raises", function()
    local obj, reports = {}, {}
    local function report(r) reports[#reports + 1] = r end
    local ok, err = pcall(goro.run, {report = report}, function() error(obj) end)
    assert.is_false(ok)
    assert.are.equal(obj, err)
    local r = reports[1]
    assert.are.equal("error", r.kind)
    assert.are.equal(obj, r.error)
    assert.is_number(r.g)
    assert.matches("^stack traceback:\n.*03%-run_spec.lua:%d+:", r.traceback)
    assert.is_nil(r.dump)
    -- another G's error: its value as raised, though goro.run makes it text
    pcall(goro.run, {report = report, dump = true}, function()
      goro.go(function() error(obj) end)
      goro.chan():recv()
    end)
    r = reports[2]
    assert.are.same({"error", obj}, {r.kind, r.error})
    assert.matches("%[chan receive", r.dump)
    pcall(goro.run, {report = report}, function() goro.chan():recv() end)
    assert.are.equal("deadlock", reports[3].kind)
    assert.matches("%[chan receive", reports[3].dump)
    pcall(goro.run, {report = report, timeout = 0.02}, function() goro.sleep(5) end)
    assert.are.equal("timeout", reports[4].kind)
    assert.matches("%[sleep", reports[4].dump)
    assert.are.equal(4, #reports)
    assert.are.same({true, 1}, {pcall(goro.run, {report = report}, function() return 1 end)})
    assert.are.equal(4, #reports, "report is not called on success")
    assert.matches("^goro.run: report must be a function",
      h.errmsg(goro.run, {report = 1}, function() end))
  end)

  it("lets report run goro.run again, and raises report's own error", function()
    local nested
    local ok, err = pcall(goro.run, {report = function()
      nested = goro.run(function() return "nested" end)
    end}, function() error("x", 0) end)
    assert.are.same({false, "x", "nested"}, {ok, err, nested})
    ok, err = pcall(goro.run, {report = function() error("in report", 0) end},
      function() goro.chan():recv() end)
    assert.are.same({false, "in report"}, {ok, err})
  end)

  it("gives another G's non-string error its id and traceback too", function()
    local obj = setmetatable({}, {__tostring = function() return "my error" end})
    local cases = {
      {obj, "^goroutine %d+: my error\nstack traceback:"},
      {{}, "^goroutine %d+: %(error object is a table value%)\nstack traceback:"},
      {42, "^goroutine %d+: 42\nstack traceback:"},
      {nil, "^goroutine %d+: %(error object is a nil value%)\nstack traceback:"},
    }
    for _, c in ipairs(cases) do
      local err = h.errmsg(goro.run, function()
        goro.go(function() error(c[1]) end)
        goro.chan():recv()
      end)
      assert.matches(c[2], err)
    end
  end)

  it("names a G whose error value's __tostring raises or blocks", function()
    local raises = setmetatable({}, {__tostring = function() error("tostring failed") end})
    local blocks = setmetatable({}, {__tostring = function() goro.chan():recv() end})
    for _, obj in ipairs({raises, blocks}) do
      local err = h.errmsg(goro.run, function()
        goro.go(function() error(obj) end)
        goro.chan():recv()
      end)
      assert.matches("^goroutine %d+: %(error object is a table value%)\nstack traceback:", err)
    end
  end)

  it("stops on an error in a G that nobody waits for", function()
    local after = false
    local err = h.errmsg(goro.run, function()
      local g = goro.go(function() error("lost") end)
      goro.sleep(0.01)
      after = true
    end)
    assert.matches("^goroutine %d+: .*: lost", err)
    assert.is_false(after, "the run stopped at the error")
  end)

  it("closes the main G's to-be-closed variables when another G fails", function()
    local closed = false
    local ok = pcall(goro.run, function()
      local _ <close> = setmetatable({}, {__close = function() closed = true end})
      goro.go(function() error("x") end)
      goro.chan():recv()
    end)
    assert.is_false(ok)
    assert.is_true(closed)
  end)

  it("reports a deadlock with a dump of every G", function()
    local err = h.errmsg(goro.run, function()
      local a, b = goro.chan(), goro.chan()
      goro.go(function() a:recv() end)
      b:recv()
    end)
    assert.matches("^all goroutines are asleep %- deadlock!", err)
    assert.matches("goroutine %d+ %[chan receive, [%d.]+s%]", err)
    assert.matches("created by goro.go at .*03%-run_spec.lua", err)
    assert.matches("created by goro.run", err)
  end)

  it("does not call it a deadlock while a timer is pending", function()
    assert.are.equal("woke", goro.run(function()
      local ch = goro.chan()
      goro.go(function() goro.sleep(0.02); ch:send("woke") end)
      return ch:recv()
    end))
  end)

  it("fails with a timeout and the dump when the run takes too long", function()
    local err = h.errmsg(goro.run, {timeout = 0.05 * h.time_scale}, function()
      goro.sleep(10)
    end)
    assert.matches("^goro.run: timed out after", err)
    assert.matches("%[sleep, ", err)
  end)

  it("ends every kind of failure clean, to-be-closed variables closed", function()
    local failures = {  -- what the error says, the run's body
      {"^goroutine %d+: ", function() goro.go(function() error("x") end); goro.chan():recv() end},
      {"^all goroutines are asleep", function() goro.chan():recv() end},
      {"^goro.run: timed out", function()
        goro.go(function() goro.sleep(10) end)
        goro.ticker(0.001)
        goro.sleep(10)
      end},
    }
    for _, f in ipairs(failures) do
      local name, closed = f[1], false
      -- (The main G must be under way when the run times out: its
      -- to-be-closed variable is made by then.)
      local ok, err = pcall(goro.run, {timeout = 0.05 * h.time_scale}, function()
        local _ <close> = setmetatable({}, {__close = function() closed = true end})
        for _ = 1, 5 do goro.go(function() goro.chan():recv() end) end
        f[2]()
      end)
      assert.is_false(ok, name)
      assert.matches(name, err)
      assert.is_true(closed, name .. ": to-be-closed variable closed")
      local s = goro.stats()
      assert.are.same({0, 0, 0, 0, 0}, {s.gs, s.runnable, s.stacks, s.sleeping, s.timers}, name)
    end
  end)

  it("refuses to nest", function()
    assert.matches("already running", h.errmsg(goro.run, function()
      goro.run(function() end)
    end))
  end)

  it("checks its arguments", function()
    assert.matches("bad argument #1 to 'goro.run' %(function expected",
      h.errmsg(goro.run, 42))
    assert.matches("bad argument #2 to 'goro.run' %(function expected",
      h.errmsg(goro.run, {}, nil))
  end)
end)
