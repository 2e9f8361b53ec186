#!/usr/bin/env bash
# spec/install.sh BUILDDIR — the install lane (`scripts/test install`):
# install goro into a scratch prefix and use it as a user would, with
# nothing from the source or the build tree.
#
# BUILDDIR is configured with --prefix=<a fresh directory under /tmp>; the
# installed targets alone are built (libgoro.so, goro/core.so, and
# libgoro.a for the static-copy host: the lane stays cheap) and `meson
# install` puts them under the prefix. Then, from a
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
#   - a host that links a static copy of goro (the build's libgoro.a)
#     while `require "goro"` loads the installed shared one is refused, with
#     a message that says what to link (vm_bridge/onecopy.c);
#   - the same Lua and hosts against `luarocks --lua-version 5.4 --tree TREE
#     make` of the rockspec into a fresh tree (core.so's RUNPATH, one
#     libgoro.so in the tree), and `luarocks remove` of it;
#   - the Debian packages: `dpkg-buildpackage -us -uc -b` of debian/ in a
#     copy of the source under /tmp builds libgoro0, libgoro-dev and
#     lua-goro (their files, their Depends); `apt-get install` of the three
#     .debs (root, or sudo -n), then lua5.4 with no LUA_PATH nor LUA_CPATH
#     (Lua's own paths find the packaged files), the hosts with pkg-config's
#     own search path and no rpath, and the static copy refused; then
#     `apt-get purge` of them and of whatever they pulled in, so that the
#     machine's packages are as before (checked), even when a check failed.
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
  # (the Debian packages are purged even when a check failed on the way)
  [ "${deb_installed:-0}" = 1 ] && deb_purge
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
# (and libgoro.a, a static copy, for check_two_copies)
if ! ninja -C "$dir" "libgoro.so.$version" lua/goro/core.so libgoro.a >"$tmp/build.log" 2>&1 ||
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
# (lua54.h: a strong reference to a function another Lua lacks would fail
# its load in the dynamic linker instead of in goro's words)
strong=$(nm -D "$libdir/libgoro.so.0" | awk '$1 == "U" && $2 ~ /^lua/ {print $2}' | tr '\n' ' ')
[ -z "$strong" ] && ok "libgoro.so.0 binds the Lua API weakly" ||
  notok "libgoro.so.0 binds the Lua API weakly" "strong: $strong (add them to vm_bridge/lua54.h)"
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
# paths (no ";;": not even Lua's defaults) and runs G's. With LMOD and CMOD
# empty, with no LUA_PATH nor LUA_CPATH at all: Lua's own paths.
check_lua() {
  local how=$1 out
  if [ -n "$2" ]; then
    export LUA_PATH="$2/?.lua;$2/?/init.lua" LUA_CPATH="$3/?.so"
  else
    unset LUA_PATH LUA_CPATH
  fi
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

# check_hosts HOW [PCDIR]: examples/host.c built with cc, and with c++ as
# C++, from `pkg-config --cflags --libs goro` alone (goro.pc in PCDIR, or
# where pkg-config looks by itself), and run. LUA_PATH is check_lua's: the
# host's script requires the facade.
check_hosts() {
  local how=$1 flags rpath="" lang compiler out
  if flags=$(env ${2:+PKG_CONFIG_PATH=$2} pkg-config --cflags --libs goro 2>&1); then
    ok "$how: pkg-config --cflags --libs goro: $flags"
  else
    notok "$how: pkg-config --cflags --libs goro" "$flags"
    return
  fi
  # (a scratch prefix is not in ld.so's search path: the host carries an
  # rpath to it; under /usr or /usr/local it needs none)
  [ -z "${2:-}" ] || rpath=-Wl,-rpath,$(PKG_CONFIG_PATH=$2 pkg-config --variable=libdir goro)
  for lang in c c++; do
    compiler=cc
    [ "$lang" = c++ ] && compiler=c++
    rm -f "$tmp/user/host-$lang"
    # shellcheck disable=SC2086 # the flags are words
    if out=$(cd "$tmp/user" && $compiler -x "$lang" host.c -o "host-$lang" $flags $rpath 2>&1); then
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

# check_two_copies HOW [PCDIR]: a host with a static copy of goro (the
# build's libgoro.a; goro.h and Lua's flags from goro.pc) meets the
# installed shared copy, which `require "goro"` loads, and is refused
# (vm_bridge/onecopy.c) with a message naming both copies and what to link:
#   - its symbols hidden, it requires goro before its goro_open: the
#     static copy's goro_open finds the state's runtime made by the other;
#   - its symbols exported (-rdynamic), it only requires goro: the shared
#     copy finds the static one in the process's global scope.
check_two_copies() {
  local how=$1 flags variant ld out
  cat >"$tmp/user/twocopies.c" <<'C'
/* A host linking a static copy of goro that lets `require "goro"` load
** the shared one (no package.preload of its own luaopen_goro_core). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include <goro.h>

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  goro_runtime *rt;

  luaL_openlibs(L);
  if (luaL_dostring(L, "require 'goro'.run(function() end)") != LUA_OK) {
    printf("require: %s\n", lua_tostring(L, -1));
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "open") == 0) {
    if ((rt = goro_open(L)) == NULL) {
      printf("goro_open: %s\n", goro_errmsg());
      return 0;
    }
    goro_close(rt);
  }
  puts("two runtimes ran side by side");
  return 1;
}
C
  # (goro.pc's --cflags, for the installed goro.h, and Lua's --libs: not
  # goro.pc's -lgoro, with which the host would load the shared copy
  # itself)
  if ! flags=$(env ${2:+PKG_CONFIG_PATH=$2} pkg-config --cflags goro 2>&1); then
    notok "$how: two copies: pkg-config --cflags goro" "$flags"
    return
  fi
  flags="$flags $(pkg-config --libs lua5.4)"
  for variant in hidden exported; do
    ld=""
    [ "$variant" = exported ] && ld=-rdynamic
    # (zlib: the static copy's core links it)
    # shellcheck disable=SC2086 # the flags are words
    if ! out=$(cd "$tmp/user" && cc twocopies.c -o "twocopies-$variant" $ld \
                 "$src_build/libgoro.a" $flags -lz -lm 2>&1); then
      notok "$how: a host with a static copy ($variant) builds" "$out"
      continue
    fi
    if [ "$variant" = hidden ]; then
      out=$(cd "$tmp/user" && ./twocopies-hidden open 2>&1)
    else
      out=$(cd "$tmp/user" && ./twocopies-exported 2>&1)
    fi
    if [[ $out == *"goro: two copies of goro in one process ("*"libgoro.so.0"* &&
          $out == *"link libgoro.so (pkg-config --libs goro) into the host"* ]]; then
      ok "$how: a static copy ($variant) beside the shared one is refused: $out"
    else
      notok "$how: a static copy ($variant) beside the shared one is refused" "got: $out"
    fi
  done
}

src_build=$(cd "$dir" && pwd)
check_lua "meson install" "$lmod" "$cmod"
check_hosts "meson install" "$libdir/pkgconfig"
check_two_copies "meson install" "$libdir/pkgconfig"

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
# ---- Debian packages: dpkg-buildpackage, apt-get install, purge --------------
# debian/ is built from a copy of the source under $tmp (dpkg-buildpackage
# writes the .debs beside the source directory and its build directory
# inside it), the three packages are installed system-wide with apt-get
# (as root, or through sudo -n), used with nothing but Lua's and
# pkg-config's own search paths, and purged with whatever apt-get pulled in
# with them: the machine's packages are left as they were.
debpkgs=(libgoro0 libgoro-dev lua-goro)
deb_installed=0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
installed_pkgs() {
  dpkg-query -W -f='${binary:Package} ${Status}\n' |
    sed -n 's/ install ok installed$//p' | LC_ALL=C sort
}
deb_purge() {
  [ "$deb_installed" = 1 ] || return 0
  deb_installed=0
  local new
  new=$(LC_ALL=C comm -13 "$tmp/pkgs.before" <(installed_pkgs) | tr '\n' ' ')
  # shellcheck disable=SC2086 # package names are words
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $new >"$tmp/purge.log" 2>&1
}
trap deb_purge EXIT  # (an interrupted run: finish purges otherwise)
check_debs() {
  local debdir=$tmp/deb debver arch ma cmodsys lmodsys p out missing files
  if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
    pending "Debian packages: dpkg-buildpackage or dh is missing (scripts/deps test installs dpkg-dev and debhelper)"
    return
  fi
  if [ -n "$sudo" ] && ! sudo -n true 2>/dev/null; then
    pending "Debian packages: installing them needs root or sudo without a password"
    return
  fi
  out=$(installed_pkgs | grep -E "^($(IFS='|'; echo "${debpkgs[*]}"))(:|$)" | tr '\n' ' ')
  if [ -n "$out" ]; then
    pending "Debian packages: $out already installed here; the lane would replace and purge them"
    return
  fi
  debver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
  [ "${debver%-*}" = "$version" ] && ok "debian/changelog's version $debver is meson.build's" ||
    notok "debian/changelog's version is meson.build's" "debian/changelog: $debver, meson.build: $version"
  arch=$(dpkg --print-architecture)
  ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  cmodsys=$(pkg-config --variable=INSTALL_CMOD lua5.4)
  lmodsys=$(pkg-config --variable=INSTALL_LMOD lua5.4)
  # the source without build directories, .git or .cache
  mkdir -p "$debdir/goro-$version"
  tar -C "$src" --anchored --exclude='./build*' --exclude=./.git --exclude=./.cache \
      --exclude='./obj-*' -cf - . | tar -C "$debdir/goro-$version" -xf -
  if ! (cd "$debdir/goro-$version" && dpkg-buildpackage -us -uc -b) >"$tmp/deb.log" 2>&1; then
    notok "dpkg-buildpackage -us -uc -b" "$(tail -30 "$tmp/deb.log")"
    return
  fi
  missing=""
  for p in "${debpkgs[@]}"; do
    [ -f "$debdir/${p}_${debver}_$arch.deb" ] || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    notok "dpkg-buildpackage -us -uc -b builds ${debpkgs[*]}" "missing:$missing" "$(ls "$debdir")"
    return
  fi
  ok "dpkg-buildpackage -us -uc -b builds ${debpkgs[*]}"
  # what each package holds, where (README, "Install")
  check_deb_files() {
    local p=$1 list missing="" f
    shift
    list=$(dpkg-deb -c "$debdir/${p}_${debver}_$arch.deb" | awk '{print substr($6, 2)}')
    for f in "$@"; do grep -qxF "$f" <<<"$list" || missing="$missing $f"; done
    [ -z "$missing" ] && ok "$p holds $*" || notok "$p holds its files" "missing:$missing" "$list"
  }
  check_deb_files libgoro0 "/usr/lib/$ma/libgoro.so.0" "/usr/lib/$ma/libgoro.so.$version"
  check_deb_files libgoro-dev /usr/include/goro/goro.h "/usr/lib/$ma/libgoro.so" \
    "/usr/lib/$ma/pkgconfig/goro.pc"
  check_deb_files lua-goro "$cmodsys/goro/core.so" "$lmodsys/goro/init.lua" "$lmodsys/goro/busted.lua"
  out=$(dpkg-deb -f "$debdir/lua-goro_${debver}_$arch.deb" Depends)
  [[ $out == *"libgoro0 (= $debver)"* && $out == *"lua5.4 | liblua5.4-0"* ]] &&
    ok "lua-goro depends on libgoro0 (= $debver) and lua5.4 | liblua5.4-0" ||
    notok "lua-goro depends on libgoro0 (= $debver) and lua5.4 | liblua5.4-0" "Depends: $out"
  out=$(dpkg-deb -f "$debdir/libgoro-dev_${debver}_$arch.deb" Depends)
  [[ $out == *"libgoro0 (= $debver)"* && $out == *liblua5.4-dev* ]] &&
    ok "libgoro-dev depends on libgoro0 (= $debver) and liblua5.4-dev" ||
    notok "libgoro-dev depends on libgoro0 (= $debver) and liblua5.4-dev" "Depends: $out"

  installed_pkgs >"$tmp/pkgs.before"
  files=()
  for p in "${debpkgs[@]}"; do files+=("$debdir/${p}_${debver}_$arch.deb"); done
  deb_installed=1
  # (a path, not a bare name, tells apt-get a file from a package name)
  if $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
       --no-install-recommends "${files[@]}" >"$tmp/apt.log" 2>&1 &&
     [ "$(installed_pkgs | grep -cxE "($(IFS="|"; echo "${debpkgs[*]}"))(:$arch)?")" = 3 ]; then
    ok "apt-get install ./libgoro0 ./libgoro-dev ./lua-goro"
  else
    notok "apt-get install ./libgoro0 ./libgoro-dev ./lua-goro" "$(tail -20 "$tmp/apt.log")"
    deb_purge
    return
  fi
  runpath=$(readelf -d "$cmodsys/goro/core.so" | sed -n 's/.*R.*PATH).*\[\(.*\)\]/\1/p')
  [ -z "$runpath" ] && ok "deb: core.so carries no RUNPATH" ||
    notok "deb: core.so carries no RUNPATH" "got: $runpath"
  # Lua's own paths find the packaged files (not a copy under /usr/local)
  out=$(cd "$tmp/user" && env -u LUA_PATH -u LUA_CPATH lua5.4 -e '
    print(package.searchpath("goro", package.path), package.searchpath("goro.core", package.cpath))' 2>&1)
  [ "$out" = "$lmodsys/goro/init.lua	$cmodsys/goro/core.so" ] &&
    ok "deb: lua5.4 finds goro in $lmodsys and $cmodsys" ||
    notok "deb: lua5.4 finds goro in $lmodsys and $cmodsys" "got: $out"
  check_lua "deb" "" ""
  # Debian's build binds now (-z now, hardening=+all): the weak Lua API
  # (vm_bridge/lua54.h) still lets another Lua load the core and be told.
  if command -v lua5.1 >/dev/null; then
    out=$(cd "$tmp/user" && lua5.1 -e "
      local open = assert(package.loadlib('$cmodsys/goro/core.so', 'luaopen_goro_core'))
      print(select(2, pcall(open)))" 2>&1)
    [ "$out" = "goro requires Lua 5.4 (this is Lua 5.1)" ] &&
      ok "deb: lua5.1 loading core.so is told: $out" ||
      notok "deb: lua5.1 loading core.so is told 'goro requires Lua 5.4 (this is Lua 5.1)'" "got: $out"
  else
    pending "deb: lua5.1 is not installed: cannot check that the packaged core refuses it"
  fi
  check_hosts "deb"
  check_two_copies "deb"
  deb_purge
  out=$(LC_ALL=C comm -3 "$tmp/pkgs.before" <(installed_pkgs) | tr '\n' ' ')
  [ -z "$out" ] && ok "apt-get purge leaves the machine's packages as they were" ||
    notok "apt-get purge leaves the machine's packages as they were" "differ: $out" \
      "$(tail -10 "$tmp/purge.log")"
}
check_debs
finish
