-- The examples run and do what they say (the README's demo among them).
local function run_example(name)
  local lua = "lua5.4"
  local h = io.popen(lua .. " examples/" .. name .. " 2>&1")
  local out = h:read("a")
  local ok, _, code = h:close()
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
