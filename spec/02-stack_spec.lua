-- Lua code runs on a switched G stack: the arch layer's call-on-other-stack
-- primitive with the real interpreter on top of it.
local goro = require "goro"
local call_on_stack = goro.core.call_on_stack

describe("goro.core.call_on_stack(f, ...)", function()
  it("runs f on a G stack and returns all its results", function()
    local a, b, c = call_on_stack(function(x, y) return x + y, "two", nil end, 1, 2)
    assert.are.equal(3, a)
    assert.are.equal("two", b)
    assert.is_nil(c)
  end)

  it("holds a stack only while f runs", function()
    local inside
    call_on_stack(function() inside = goro.core.stackstats().live end)
    assert.are.equal(1, inside)
    assert.are.equal(0, goro.core.stackstats().live)
  end)

  it("raises f's error again on the calling stack", function()
    local ok, err = pcall(call_on_stack, function() error("boom", 0) end)
    assert.is_false(ok)
    assert.are.equal("boom", err)
    assert.are.equal(0, goro.core.stackstats().live)
  end)

  it("survives Lua's deepest C nesting (string.gsub callbacks)", function()
    -- ~2 KB of C stack per level (measured): near Lua's 200-level C limit
    -- this needs ~400 KB, which the default 1 MiB stack must hold.
    local function nest(n)
      if n == 0 then return "x" end
      return (string.gsub("a", "a", function() return nest(n - 1) end))
    end
    assert.are.equal("x", call_on_stack(nest, 150))
  end)

  it("turns Lua's C-stack overflow into a Lua error, not a crash", function()
    local function nest(n)
      return (string.gsub("a", "a", function() return nest(n + 1) end))
    end
    local ok, err = pcall(call_on_stack, nest, 0)
    assert.is_false(ok)
    assert.matches("stack overflow", err)
  end)

  it("nests: a call on a stack from inside another", function()
    local r = call_on_stack(function()
      return call_on_stack(function() return goro.core.stackstats().live end)
    end)
    assert.are.equal(2, r)
  end)

  it("rejects a non-function with a standard argument error", function()
    assert.has_error(function() call_on_stack(42) end,
      "bad argument #1 to 'call_on_stack' (function expected, got number)")
  end)
end)
