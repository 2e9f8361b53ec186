-- The examples run and do what they say (the README's demo among them).
local h = require "spec.helpers"

local function run_example(name)
  local p = io.popen(h.lua .. " examples/" .. name .. " 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, out, code
end

describe("examples/pipeline.lua (scripts/demo)", function()
  it("runs the pipeline to the end and accounts for every job", function()
    local ok, out = run_example("pipeline.lua")
    assert.is_true(ok, out)
    assert.matches("goro pipeline demo: 60 jobs, 4 workers", out)
    assert.matches("done in %d+ ms: 60 jobs produced, %d+ finished, %d+ timed out", out)
    assert.matches("after the run: 0 G's, 0 stacks in use", out)
  end)
end)

describe("examples/gameloop (scripts/demo)", function()
  it("runs 60 frames of job threads calling Lua with nested callbacks", function()
    local build = os.getenv("GORO_BUILDDIR") or "build"
    local p = io.popen(h.exe(build .. "/examples/gameloop") .. " . 2>&1")
    local out = p:read("a")
    local ok = p:close()
    assert.is_true(ok, out)
    assert.matches("frame 60: +240 callbacks", out)
    assert.matches("240 callbacks %(each with a nested Lua %-> C %-> Lua path query%), 0 failed, 1920 updates applied", out)
    assert.matches("every job thread was an extra M in C between frames: yes", out)
  end)
end)
