#!/usr/bin/env bash
# spec/install.sh BUILDDIR — the install lane (`scripts/test install`):
# install goro into a scratch prefix and use it as a user would, with
# nothing from the source or the build tree.
#
# BUILDDIR is configured with --prefix=<a fresh directory under /tmp>; the
# installed targets alone are built (libgoro.so, goro/core.so: the lane
# stays cheap) and `meson install` puts them under the prefix. Then, from a
# directory outside the source tree:
#   - the files are where README's "Install" says: libgoro.so.0 (soname
#     libgoro.so.0, exporting goro_* and luaopen_goro_core only),
#     goro/core.so (RUNPATH: the installed library directory, nothing of
#     the build tree), goro/init.lua, goro/busted.lua, goro/goro.h (the
#     public header alone), goro.pc (Requires: lua5.4);
#   - lua5.4 requires goro with LUA_PATH and LUA_CPATH naming only the
#     installed module directories (no ";;": not even Lua's defaults),
#     prints goro._VERSION (meson.build's version) and runs G's;
#   - examples/host.c built with cc and with c++ (as C++: goro.h's extern
#     "C" guards) from `pkg-config --cflags --libs goro`, and run;
#   - the same Lua and hosts against `luarocks --lua-version 5.4 --tree TREE
#     make` of the rockspec into a fresh tree (core.so's RUNPATH, one
#     libgoro.so in the tree), and `luarocks remove` of it.
# The variables set here are for the scratch prefix only. Installed to the
# default prefix, /usr/local, nothing is needed: Debian's lua5.4 searches
# /usr/local/share/lua/5.4 and /usr/local/lib/lua/5.4 (where goro's Lua
# and C modules go), pkg-config searches /usr/local/lib/<multiarch>/
# pkgconfig, and `meson install` as root runs ldconfig, so a host needs no
# rpath nor LD_LIBRARY_PATH (README, "Install").
# Prints "ok - ..." / "not ok - ..." / "pending - ..." lines, then "N
# passed, N failed, N pending"; exits 1 if a check failed.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: spec/install.sh BUILDDIR}
passed=0
failed=0
pending=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
pending() { pending=$((pending + 1)); echo "pending - $1"; }
notok() { failed=$((failed + 1)); echo "not ok - $1"; shift; [ $# -eq 0 ] || printf '    %s\n' "$@"; }
finish() {
  echo "$passed passed, $failed failed, $pending pending"
  [ -n "${tmp:-}" ] && rm -rf "$tmp"
  [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
  exit
}

tmp=$(mktemp -d /tmp/goro-install.XXXXXX)
prefix=$tmp/prefix
if [ -f "$dir/build.ninja" ]; then
  setup=(meson configure "$dir" "-Dprefix=$prefix")
else
  setup=(meson setup "$dir" "--prefix=$prefix" -Dwerror=true -Dchecks=true)
fi
if ! "${setup[@]}" >"$tmp/setup.log" 2>&1; then
  notok "configure $dir" "$(tail -20 "$tmp/setup.log")"
  finish
fi
version=$(meson introspect "$dir" --projectinfo |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
# the installed targets, then install them without building anything else
if ! ninja -C "$dir" "libgoro.so.$version" lua/goro/core.so >"$tmp/build.log" 2>&1 ||
   ! meson install -C "$dir" --no-rebuild >"$tmp/install.log" 2>&1; then
  notok "build and install into $prefix" "$(tail -20 "$tmp/build.log" "$tmp/install.log")"
  finish
fi
ok "meson install into a scratch prefix"

opt() {
  meson introspect "$dir" --buildoptions |
    python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]][0])' "$1"
}
libdir=$prefix/$(opt libdir)
includedir=$prefix/$(opt includedir)
cmod=$prefix/lib/lua/5.4     # Lua's own layout under a prefix that is not
lmod=$prefix/share/lua/5.4   # lua5.4's (meson.build, "installation")

# ---- the files ---------------------------------------------------------------
for f in "$libdir/libgoro.so.0" "$libdir/pkgconfig/goro.pc" "$cmod/goro/core.so" \
         "$lmod/goro/init.lua" "$lmod/goro/busted.lua" "$includedir/goro/goro.h"; do
  if [ -e "$f" ]; then ok "installed ${f#"$prefix"/}"; else notok "installed ${f#"$prefix"/}"; fi
done
headers=$(cd "$includedir" && find . -type f | sort | tr '\n' ' ')
[ "$headers" = "./goro/goro.h " ] && ok "goro.h is the only header" ||
  notok "goro.h is the only header" "found: $headers"
soname=$(readelf -d "$libdir/libgoro.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libgoro.so.0 ] && ok "soname libgoro.so.0" || notok "soname libgoro.so.0" "got: $soname"
others=$(nm -D --defined-only "$libdir/libgoro.so.0" | awk '{print $3}' |
         grep -v -e '^goro_' -e '^luaopen_goro_core$' | tr '\n' ' ')
if [ -z "$others" ] && nm -D --defined-only "$libdir/libgoro.so.0" | grep -q ' goro_open$'; then
  ok "libgoro.so.0 exports goro_* and luaopen_goro_core only"
else
  notok "libgoro.so.0 exports goro_* and luaopen_goro_core only" "also: $others"
fi
runpath=$(readelf -d "$cmod/goro/core.so" | sed -n 's/.*R.*PATH).*\[\(.*\)\]/\1/p')
[ "$runpath" = "$libdir" ] && ok "core.so's RUNPATH is the installed library directory" ||
  notok "core.so's RUNPATH is the installed library directory" "got: $runpath"
grep -q '^Requires: lua5.4' "$libdir/pkgconfig/goro.pc" && ok "goro.pc requires lua5.4" ||
  notok "goro.pc requires lua5.4" "$(cat "$libdir/pkgconfig/goro.pc")"

# ---- Lua and hosts, from a directory outside the source tree --------------------
mkdir "$tmp/user"
cp "$src/examples/host.c" "$tmp/user/host.c"
unset LUA_PATH_5_4 LUA_CPATH_5_4 LD_LIBRARY_PATH LD_PRELOAD PKG_CONFIG_PATH

# check_lua HOW LMOD CMOD: lua5.4 finds goro with only LMOD and CMOD on its
# paths (no ";;": not even Lua's defaults) and runs G's.
check_lua() {
  local how=$1 out
  export LUA_PATH="$2/?.lua;$2/?/init.lua" LUA_CPATH="$3/?.so"
  out=$(cd "$tmp/user" && lua5.4 -e 'print(require "goro"._VERSION)' 2>&1)
  [ "$out" = "goro $version" ] && ok "$how: lua5.4 -e 'print(require \"goro\"._VERSION)': $out" ||
    notok "$how: lua5.4 -e 'print(require \"goro\"._VERSION)'" "expected: goro $version" "got: $out"
  out=$(cd "$tmp/user" && lua5.4 -e '
    local goro = require "goro"
    print(goro.run(function()
      local ch = goro.chan()
      for i = 1, 10 do goro.go(function() ch:send(i * i) end) end
      local sum = 0
      for _ = 1, 10 do sum = sum + ch:recv() end
      return sum
    end))' 2>&1)
  [ "$out" = 385 ] && ok "$how: lua5.4 runs G's" || notok "$how: lua5.4 runs G's" "got: $out"
}

# check_hosts HOW PCDIR: examples/host.c built with cc, and with c++ as
# C++, from `pkg-config --cflags --libs goro` alone (goro.pc in PCDIR), and
# run. LUA_PATH is check_lua's: the host's script requires the facade.
check_hosts() {
  local how=$1 flags rpath lang compiler out
  if flags=$(PKG_CONFIG_PATH=$2 pkg-config --cflags --libs goro 2>&1); then
    ok "$how: pkg-config --cflags --libs goro: $flags"
  else
    notok "$how: pkg-config --cflags --libs goro" "$flags"
    return
  fi
  # (a scratch prefix is not in ld.so's search path: the host carries an
  # rpath to it; under /usr/local it would need none)
  rpath=-Wl,-rpath,$(PKG_CONFIG_PATH=$2 pkg-config --variable=libdir goro)
  for lang in c c++; do
    compiler=cc
    [ "$lang" = c++ ] && compiler=c++
    rm -f "$tmp/user/host-$lang"
    # shellcheck disable=SC2086 # the flags are words
    if out=$(cd "$tmp/user" && $compiler -x "$lang" host.c -o "host-$lang" $flags "$rpath" 2>&1); then
      ok "$how: $compiler -x $lang host.c \$(pkg-config --cflags --libs goro)"
      if out=$(cd "$tmp/user" && "./host-$lang" 2>&1) &&
         [[ $out == "goro $version: the sum of 1..10 is 55"* ]]; then
        ok "$how: the $lang host runs: $out"
      else
        notok "$how: the $lang host runs" "$out"
      fi
    else
      notok "$how: $compiler -x $lang host.c \$(pkg-config --cflags --libs goro)" "$out"
    fi
  done
}

check_lua "meson install" "$lmod" "$cmod"
check_hosts "meson install" "$libdir/pkgconfig"

# ---- LuaRocks: `luarocks make` into a tree of its own ----------------------------
# The rockspec builds in build-rock/ (in the source tree, reused from run to
# run) and installs into the tree; libgoro.so.0, goro.pc and goro.h stay in
# the rock's own directory (goro-<version>-1.rockspec says why).
rockspec=goro-$version-1.rockspec
tree=$tmp/rocks
if ! command -v luarocks >/dev/null; then
  pending "luarocks make: luarocks is not installed (scripts/deps test installs it)"
elif ! (cd "$src" && env -u LUA_PATH -u LUA_CPATH \
         luarocks --lua-version 5.4 --tree "$tree" make "$rockspec") \
       >"$tmp/rock.log" 2>&1; then
  notok "luarocks --lua-version 5.4 --tree TREE make $rockspec" "$(tail -30 "$tmp/rock.log")"
else
  ok "luarocks --lua-version 5.4 --tree TREE make $rockspec"
  rock=$tree/lib/luarocks/rocks-5.4/goro/$version-1
  runpath=$(readelf -d "$tree/lib/lua/5.4/goro/core.so" | sed -n 's/.*R.*PATH).*\[\(.*\)\]/\1/p')
  [ "$runpath" = "$rock/clib" ] && ok "luarocks: core.so's RUNPATH is the rock's clib/" ||
    notok "luarocks: core.so's RUNPATH is the rock's clib/" "got: $runpath"
  copies=$(find "$tree" -name 'libgoro.so*' -type f | wc -l)
  [ "$copies" = 1 ] && ok "luarocks: one libgoro.so in the tree" ||
    notok "luarocks: one libgoro.so in the tree" "$(find "$tree" -name 'libgoro.so*')"
  check_lua "luarocks" "$tree/share/lua/5.4" "$tree/lib/lua/5.4"
  check_hosts "luarocks" "$rock/clib/pkgconfig"
  if (cd "$tmp/user" && env -u LUA_PATH -u LUA_CPATH \
        luarocks --lua-version 5.4 --tree "$tree" remove goro) >"$tmp/rock.log" 2>&1 &&
     [ -z "$(find "$tree" -name core.so -o -name init.lua -o -name 'libgoro.so*')" ]; then
    ok "luarocks remove goro leaves nothing of it"
  else
    notok "luarocks remove goro leaves nothing of it" "$(tail -10 "$tmp/rock.log")" \
      "$(find "$tree" -type f)"
  fi
fi
finish
