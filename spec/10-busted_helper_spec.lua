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

  it("checks its arguments", function()
    assert.has_error(function() goro_it(42) end,
      "bad argument #1 to 'goro_it' (function expected, got number)")
  end)
end)
