-- spec/ffi_header.lua GORO_H LIBGORO: goro.h is plain C that LuaJIT's
-- ffi.cdef accepts once preprocessor lines are removed (no macros inside
-- declarations, no bit-fields), and libgoro.so's functions can be called
-- through ffi.load. Run with Debian's luajit; prints TAP-ish lines and the
-- plain "N passed, N failed" count.
local ffi = require "ffi"
local header, lib = arg[1], arg[2]
local passed, failed = 0, 0
local function check(name, ok, err)
  if ok then passed = passed + 1; print("ok - " .. name)
  else failed = failed + 1; print("not ok - " .. name .. ": " .. tostring(err)) end
end

local f = assert(io.open(header))
local text = f:read("a")
f:close()
-- Drop preprocessor lines, and what only a C++ compiler sees (the
-- extern "C" guards), as a C preprocessor would.
local decls, cplusplus = {}, false
for line in (text .. "\n"):gmatch("(.-)\n") do
  if line:match("^%s*#%s*ifdef%s+__cplusplus") then
    cplusplus = true
  elseif cplusplus and line:match("^%s*#%s*endif") then
    cplusplus = false
  elseif not cplusplus and not line:match("^%s*#") then
    decls[#decls + 1] = line
  end
end
-- goro.h stands alone: it declares lua_State itself
local src = table.concat(decls, "\n")
check("ffi.cdef accepts goro.h", pcall(ffi.cdef, src))
check("the error codes are enum constants, aliases included", pcall(function()
  assert(tonumber(ffi.new("int", ffi.C.GORO_ECLOSED)) == -3)
  assert(tonumber(ffi.new("int", ffi.C.GORO_CLOSED)) == -3)
  assert(tonumber(ffi.new("int", ffi.C.GORO_BADARG)) == tonumber(ffi.C.GORO_EINVAL))
end))

-- libgoro.so takes the Lua 5.4 API from its loader; LuaJIT is not Lua 5.4,
-- so make liblua5.4's symbols resolvable first (nothing here calls them).
local ok, err = pcall(ffi.load, "liblua5.4.so.0", true)
check("liblua5.4 loads", ok, err)
local ok2, goro = pcall(ffi.load, lib)
check("ffi.load(libgoro.so)", ok2, goro)
if ok2 then
  -- indexing a library needs both the declaration and the exported symbol
  for _, fn in ipairs({"goro_open", "goro_runtime_of", "goro_step", "goro_call",
                       "goro_cgocall", "goro_is_extra_in_c", "goro_errmsg",
                       "goro_close", "goro_strerror", "goro_escape_thread",
                       "luaopen_goro_core"}) do
    check("declared and exported: " .. fn, pcall(function() return goro[fn] end))
  end
  check("goro_is_extra_in_c() is 0 on a thread that never called in",
    goro.goro_is_extra_in_c() == 0)
  check("goro_errmsg() is empty", ffi.string(goro.goro_errmsg()) == "")
  check("goro_strerror names a code", ffi.string(goro.goro_strerror(-3)) == "runtime is closed")
  check("goro_strerror of another number", ffi.string(goro.goro_strerror(-99)) == "unknown error")
end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
