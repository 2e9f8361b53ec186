-- goro for LuaRocks: `luarocks --lua-version 5.4 make` in this directory
-- (README, "Install"). The meson build does the work; this file only tells
-- it where LuaRocks wants things:
--   goro/core.so            $(LIBDIR)  -> <tree>/lib/lua/5.4/goro/core.so
--   goro/init.lua, busted   $(LUADIR)  -> <tree>/share/lua/5.4/goro/
--   libgoro.so.0, goro.pc   $(PREFIX)/clib, goro.h $(PREFIX)/include/goro
-- where $(PREFIX) is the rock's own directory in the tree
-- (<tree>/lib/luarocks/rocks-5.4/goro/<version>). LuaRocks moves what is in
-- $(LIBDIR) and $(LUADIR) into the tree and leaves the rest in $(PREFIX):
-- libgoro.so.0 stays one file there, which core.so finds through its
-- RUNPATH and which hosts and C modules link through
-- $(PREFIX)/clib/pkgconfig/goro.pc, so a process loads one copy of goro
-- (vm_bridge/onecopy.c refuses a second).
-- The version must be meson.build's (spec/01-module_spec.lua checks it).
rockspec_format = "3.0"
package = "goro"
version = "0.1.0-1"
source = {
  -- `luarocks make` builds the checkout it runs in; there is no published
  -- source archive yet.
  url = "git+file:///dev/null",
}
description = {
  summary = "Go's concurrency model for Lua 5.4: goroutines, channels, select, timers",
  detailed = [[
goro gives Lua 5.4 Go's concurrency model: goroutines that are Lua
coroutines with C stacks of their own when they need one, channels, select,
timers, wait groups and mutexes, networking and files that park only their
goroutine, and a C API for hosts that embed Lua.
]],
  license = "MIT",
}
supported_platforms = { "linux" }
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "command",
  -- build-rock/ is configured on first use and reconfigured after (meson
  -- setup and meson configure take the same -D options); only the two
  -- installed targets are built.
  build_command = [[
if [ -f build-rock/build.ninja ]; then set -- configure; else set -- setup; fi
meson "$@" build-rock -Dprefix="$(PREFIX)" -Dlibdir=clib \
  -Dlua_cmod_dir="$(LIBDIR)" -Dlua_lmod_dir="$(LUADIR)" \
  -Dbuildtype=release -Dchecks=false &&
meson compile -C build-rock goro:shared_library core:shared_module
]],
  install_command = "meson install -C build-rock --no-rebuild",
}
