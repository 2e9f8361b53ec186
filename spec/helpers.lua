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

return helpers
