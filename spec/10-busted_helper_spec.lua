-- goro.busted: a user's busted specs whose bodies run as goroutines.
local goro = require "goro"
local goro_it = require "goro.busted"
local h = require "spec.helpers"

describe("goro_it(f)", function()
  it("runs the body as the main G", goro_it(function()
    local ch = goro.chan()
    goro.go(function() ch:send(goro.self().id) end)
    assert.is_true(ch:recv() > goro.self().id)
    assert.is_not_nil(goro.self())
  end))

  it("takes options first", goro_it({timeout = 1}, function()
    goro.sleep(0.001)
  end))

  it("runs the body in a synctest bubble with synctest = true", goro_it({synctest = true}, function()
    assert.is_true(goro.synctest.inside())
    local t0 = goro.now()
    goro.sleep(3600)  -- an hour, at once
    assert.are.equal(3600, goro.now() - t0)
  end))

  it("fails on a deadlock, with the dump", function()
    local ok, err = pcall(goro_it(function() goro.chan():recv() end))
    assert.is_false(ok)
    assert.matches("deadlock!", err)
    assert.matches("%[chan receive", err)
  end)

  it("fails on a timeout, with the dump", function()
    local ok, err = pcall(goro_it({timeout = 0.02 * h.time_scale}, function() goro.sleep(5) end))
    assert.is_false(ok)
    assert.matches("timed out", err)
    assert.matches("%[sleep", err)
  end)

  it("fails on an error in any G, listing every G", function()
    local ok, err = pcall(goro_it(function()
      goro.go(function() goro.chan():recv() end)
      goro.go(function() error("in a helper G") end)
      goro.sleep(1)
    end))
    assert.is_false(ok)
    assert.matches("in a helper G", err)
    assert.matches("all goroutines at the failure:", err)
    assert.matches("%[chan receive", err)
    assert.matches("%[sleep", err)
  end)

  it("fails when an assertion in the body fails", function()
    local ok, err = pcall(goro_it(function() assert.are.equal(1, 2) end))
    assert.is_false(ok)
    assert.matches("Expected objects to be equal", tostring(err))
  end)

  it("fails, as its error type, with the dump, when run in pcall", function()
    local ok, err = pcall(goro_it(function() goro.chan():recv() end))
    assert.is_false(ok)
    assert.are.equal("failure", debug.getmetatable(err).__type)
    assert.matches("^[^\n]*10%-busted_helper_spec.lua:%d+: all goroutines are asleep", tostring(err))
  end)

  it("checks its arguments", function()
    assert.has_error(function() goro_it(42) end,
      "bad argument #1 to 'goro_it' (function expected, got number)")
  end)
end)

-- What busted itself reports for a goro spec: a busted of its own runs
-- spec/fixtures/goro_it_outcomes.lua, whose tests all fail on purpose, and
-- its JSON output is read. Each outcome is found by the test's name; the
-- line it must point at is the one marked "@<mark>" in the fixture.
describe("busted, running goro_it specs", function()
  local fixture = "spec/fixtures/goro_it_outcomes.lua"
  local results, lines

  setup(function()
    lines = {}
    local n = 0
    for l in io.lines(fixture) do
      n = n + 1
      local mark = l:match("%-%- @(%w+)")
      if mark then lines[mark] = n end
    end
    local p = io.popen(("%s /usr/bin/busted -o json -p goro_it_outcomes spec/fixtures 2>&1")
      :format(h.lua))
    local out = p:read("a")
    p:close()
    local json = require "dkjson"
    local doc = json.decode(out:match("{.*}") or "")
    assert(type(doc) == "table", "no JSON from busted: " .. out)
    results = {}
    for _, kind in ipairs({"successes", "failures", "errors"}) do
      for _, r in ipairs(doc[kind]) do
        results[r.element.name] = {kind = kind, message = r.message, trace = r.trace}
      end
    end
  end)

  -- The outcome of test name: its kind, and that its message and its
  -- trace point at the line marked mark.
  local function check(name, kind, mark)
    local r = results[name]
    assert.is_table(r, name .. ": not run")
    assert.are.equal(kind, r.kind, name .. ": " .. tostring(r.message))
    local at = "goro_it_outcomes.lua:" .. lines[mark] .. ": "
    assert.is_truthy(r.message:find(at, 1, true), name .. " says " .. r.message)
    assert.are.same({"spec/fixtures/goro_it_outcomes.lua", lines[mark]},
      {r.trace.short_src, r.trace.currentline}, name .. ": where busted says it was raised")
    return r.message
  end

  it("reports a failed assertion in a child G as a failure, with that G and the dump", function()
    local msg = check("an assertion in a child G", "failures", "child")
    assert.matches("^[^\n]*Expected objects to be equal", msg)
    assert.matches("in goroutine %d+, stack traceback:", msg)
    assert.matches("all goroutines at the failure:", msg)
    assert.matches("%[chan receive", msg)
  end)

  it("reports a failed assertion in the main G as a failure, with the dump", function()
    local msg = check("an assertion in the main G", "failures", "main")
    assert.matches("all goroutines at the failure:", msg)
  end)

  it("reports a deadlock as a failure at the goro_it line, with the dump", function()
    local msg = check("a deadlock", "failures", "deadlock")
    assert.matches("^[^\n]*: all goroutines are asleep %- deadlock!", msg)
    assert.matches("%[chan receive", msg)
  end)

  it("reports a timeout as a failure at the goro_it line, with the dump", function()
    local msg = check("a timeout", "failures", "timeout")
    assert.matches("^[^\n]*: goro.run: timed out after", msg)
    assert.matches("%[sleep", msg)
  end)

  it("reports another error as an error", function()
    local msg = check("an error in a child G", "errors", "error")
    assert.matches("^goroutine %d+: [^\n]*: boom", msg)
  end)

  it("leaves the dump out with {dump = false}", function()
    local msg = check("a deadlock without the dump", "failures", "nodump")
    assert.matches("deadlock!$", msg)
    msg = check("an assertion in a child G without the dump", "failures", "childnodump")
    assert.is_nil(msg:find("all goroutines", 1, true))
    assert.is_nil(msg:find("in goroutine", 1, true))
  end)
end)
