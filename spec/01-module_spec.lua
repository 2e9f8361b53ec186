-- The module loads under stock lua5.4 and reports what it is built on.
local goro = require "goro"

describe("require 'goro'", function()
  it("returns the facade with the C core inside", function()
    assert.is_table(goro)
    assert.is_table(goro.core)
    assert.matches("^goro %d+%.%d+%.%d+$", goro._VERSION)
  end)

  it("is the version meson.build declares, as goro.h is", function()
    local version = assert(os.getenv("GORO_MESON_VERSION"),
      "GORO_MESON_VERSION is unset: run the specs through meson test")
    assert.are.equal("goro " .. version, goro._VERSION)
    assert.are.equal(version, goro.core.version)
    local f = assert(io.open("include/goro.h"))
    local h = f:read("a")
    f:close()
    local function define(name)
      return h:match("\n#define " .. name .. " ([^\n]+)\n")
    end
    local major, minor, patch = version:match("^(%d+)%.(%d+)%.(%d+)$")
    assert.are.equal(major, define("GORO_VERSION_MAJOR"))
    assert.are.equal(minor, define("GORO_VERSION_MINOR"))
    assert.are.equal(patch, define("GORO_VERSION_PATCH"))
    assert.are.equal('"' .. version .. '"', define("GORO_VERSION"))
    -- and the rockspec (the only one: a stale one would be found first)
    local ls = io.popen("ls *.rockspec")
    local rockspecs = ls:read("a")
    ls:close()
    assert.are.equal("goro-" .. version .. "-1.rockspec\n", rockspecs)
    f = assert(io.open("goro-" .. version .. "-1.rockspec"))
    local spec = f:read("a")
    f:close()
    assert.matches('\nversion = "' .. version:gsub("%.", "%%.") .. '%-1"\n', spec)
  end)

  it("comes with the LICENSE meson.build declares", function()
    local license = assert(os.getenv("GORO_MESON_LICENSE"),
      "GORO_MESON_LICENSE is unset: run the specs through meson test")
    assert.are.equal("MIT", license)
    local f = assert(io.open("LICENSE"))
    local text = f:read("a")
    f:close()
    assert.matches("^MIT License\n\nCopyright %(c%) %d%d%d%d the goro authors\n", text)
    assert.matches("Permission is hereby granted, free of charge", text, 1, true)
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

-- goro's core is built on Lua 5.4's API; under another Lua, `require
-- "goro"` must say so rather than fail in the dynamic linker (undefined
-- symbol: lua_absindex), and so must `require "goro.core"`, which skips
-- init.lua's check: libgoro binds the Lua API weakly and the core checks
-- it (vm_bridge/lua54.h). Each interpreter missing here is reported
-- pending (scripts/deps test installs lua5.1, lua5.3 and luajit).
describe("under another Lua", function()
  local build = os.getenv("GORO_BUILDDIR") or "build"
  -- Under an emulator (the AArch64 lane) the build's core.so is for the
  -- other machine, which the host's interpreters cannot load at all;
  -- `require "goro"` still runs init.lua's check, which needs no core.
  local cross = (os.getenv("GORO_EXE_WRAPPER") or "") ~= ""
  for _, case in ipairs({
    {"lua5.1", "Lua 5.1"},
    {"lua5.3", "Lua 5.3"},
    {"luajit", "LuaJIT 2%.%d"},
  }) do
    local interp, this = case[1], case[2]
    if os.execute("command -v " .. interp .. " >/dev/null 2>&1") then
      for _, mod in ipairs({"goro", "goro.core"}) do
        if mod == "goro.core" and cross then
          pending(("require 'goro.core' under %s: the build's core.so is for the emulated "
            .. "machine, which this machine's %s cannot load"):format(interp, interp))
          goto next
        end
        it(("require '%s' fails with 'goro requires Lua 5.4' under %s"):format(mod, interp), function()
          local h = io.popen(("LUA_PATH='lua/?.lua;lua/?/init.lua' LUA_CPATH='%s/lua/?.so' " ..
            "%s -e 'require \"%s\"' 2>&1; echo \"exit $?\""):format(build, interp, mod))
          local out = h:read("a")
          h:close()
          assert.matches("goro requires Lua 5%.4 %(this is " .. this .. "[^)]*%)", out)
          assert.matches("exit 1\n$", out)
          assert.not_matches("undefined symbol", out, 1, true)
        end)
        ::next::
      end
    else
      pending(interp .. " is not installed: cannot check that goro refuses it")
    end
  end
end)
