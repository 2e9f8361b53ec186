-- Shared by the specs: the module, and small helpers for running G's.
local goro = require "goro"

local helpers = { goro = goro }

-- How a spec starts lua5.4 and the programs of the build from a shell
-- (io.popen): GORO_LUA and GORO_EXE_WRAPPER, which spec/meson.build sets
-- (in the AArch64 lane, the arm64 ones under qemu-user).
helpers.lua = os.getenv("GORO_LUA") or "lua5.4"
function helpers.exe(path)
  local wrapper = os.getenv("GORO_EXE_WRAPPER") or ""
  return wrapper == "" and path or wrapper .. " " .. path
end

-- A spec that waits for another thread to get somewhere gives it
-- time_scale times as long: GORO_TEST_TIME_SCALE (1 when unset), which
-- spec/meson.build sets for a lane whose threads are slow to start and run.
helpers.time_scale = tonumber(os.getenv("GORO_TEST_TIME_SCALE")) or 1

-- Run f as the main G and return its results (errors propagate).
function helpers.run(f, ...)
  return goro.run(f, ...)
end

-- The message of the error f raises (nil if it does not raise).
function helpers.errmsg(f, ...)
  local ok, err = pcall(f, ...)
  if ok then return nil end
  return tostring(err)
end

-- Collect all values received from ch until it is closed.
function helpers.drain(ch)
  local out = {}
  for v in ch:iter() do out[#out + 1] = v end
  return out
end

-- The tsan lane runs the specs with GORO_TSAN=1.
helpers.tsan = os.getenv("GORO_TSAN") == "1"

-- `local it_x = helpers.unless_tsan(it, pending, reason)`: busted's `it`,
-- or under TSan a function that reports the spec pending, with the reason
-- in its name: what the lane cannot observe is said, never skipped
-- silently. (Busted's it and pending belong to the spec file's
-- environment, not to this module's: hence the arguments.)
function helpers.unless_tsan(it, pending, reason)
  if not helpers.tsan then return it end
  return function(name)
    -- (a tail call: busted reports the spec file's line, not this one)
    return pending(name .. " (under TSan: " .. reason .. ")")
  end
end

return helpers
