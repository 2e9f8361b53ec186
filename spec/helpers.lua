-- Shared by the specs: the module, and small helpers for running G's.
local goro = require "goro"

local helpers = { goro = goro }

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

-- Under a Lua built with LUA_USE_APICHECK (the apicheck lane; meson sets
-- GORO_LUA_APICHECK), a misuse of Lua's C API aborts the whole busted run.
-- A spec that reaches a known one is pending there, naming the bug:
--   if h.apicheck_bug then return pending(h.apicheck_bug) end
-- Remove those lines with the bug.
if os.getenv("GORO_LUA_APICHECK") then
  helpers.apicheck_bug = "known bug: goroB_push_gerror (vm_bridge/run.c) " ..
    "copies a failed G's error with lua_pushvalue on the G's dead thread, " ..
    "whose frame lua_resume left full, without lua_checkstack " ..
    "(LUA_USE_APICHECK: lua_pushvalue: stack overflow)"
end

return helpers
