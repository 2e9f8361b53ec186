-- The module loads under stock lua5.4 and reports what it is built on.
local goro = require "goro"

describe("require 'goro'", function()
  it("returns the facade with the C core inside", function()
    assert.is_table(goro)
    assert.is_table(goro.core)
    assert.matches("^goro %d+%.%d+%.%d+$", goro._VERSION)
  end)

  it("names the CPU its stack switching was built for", function()
    assert.is_true(goro.arch == "x86_64" or goro.arch == "aarch64")
  end)

  it("is the same module on every require", function()
    assert.are.equal(goro, require "goro")
  end)

  it("names its functions goro.<name> in argument errors", function()
    for _ = 1, 20 do
      local ok, err = pcall(goro.go, 1)
      assert.is_false(ok)
      assert.matches("to 'goro.go'", err)
    end
  end)
end)

describe("goro.stats()", function()
  it("reports G stacks in use and the pool", function()
    local s = goro.stats()
    assert.are.equal(0, s.stacks)
    assert.is_true(s.stack_size >= 512 * 1024, "stacks are at least 512 KiB")
    assert.is_true(s.stack_bytes_reserved >= 0)
  end)
end)
