/*
** vm_bridge/onecopy.c — one copy of goro a process.
**
** goro's runtime is process-wide: signal handlers (SIGURG, SIGPROF), the
** M's thread-locals, the stack pool, the profiler. Two copies of the
** library in one process — a host that links libgoro.a and a `require
** "goro"` that loads libgoro.so, or a C module with a static copy of its
** own — would run two schedulers side by side, each blind to the other's
** G's and M's, and each copy's C functions would find no runtime made by
** the other. goroB_onecopy_check refuses the second copy when it is about
** to make a runtime (goroB_runtime_get), with a message that says what to
** link. Loading a second copy is harmless; running one is not.
**
** Two checks:
**  - In the Lua state: registry["goro.copy"] names the copy that owns the
**    state's runtime (a light userdata: an address inside that copy,
**    which dladdr turns into its file). A copy that finds another copy's
**    name there refuses. This catches two copies that meet in one state,
**    whatever their symbols' visibility: `require "goro"` (libgoro.so)
**    before goro_open of a static copy, or a static copy's goro_open
**    before a C module or `package.loadlib` reaches libgoro.so's
**    luaopen_goro_core.
**  - In the process: dlsym(RTLD_DEFAULT, "luaopen_goro_core") finds the
**    copy in the global scope, if any (a host that links libgoro.so, or
**    one that exports a static copy with -rdynamic); dladdr says which
**    object holds it. A copy in another object refuses, even for a state
**    of its own. (luaopen_goro_core, not goro_open: every copy that can
**    make a runtime has it, as goro_open registers it, while a static
**    copy that a host only requires through package.preload lacks
**    goro_open.)
** What neither sees: a static copy that the host does not export, met by
** libgoro.so only in another Lua state. Nothing process-wide names it
** (its symbols are hidden), so those two run side by side.
**
** Locks: none; called with the P held or before there is one.
*/
#include <dlfcn.h>
#include <string.h>

#include "bridge.h"

#define COPY_KEY "goro.copy"

static const char copy_id;  /* this copy's name: its address */

/* The file that holds address p, or "?". */
static const char *object_of(const void *p) {
  Dl_info info;
  if (dladdr(p, &info) == 0 || info.dli_fname == NULL) return "?";
  return info.dli_fname[0] != '\0' ? info.dli_fname : "the main program";
}

static int refuse(lua_State *L, const void *other) {
  return luaL_error(L,
      "goro: two copies of goro in one process (%s and %s): link libgoro.so "
      "(pkg-config --libs goro) into the host and every C module, not a "
      "static copy, so that `require \"goro\"` and the host share one runtime",
      object_of(other), object_of(&copy_id));
}

/*
** Raises unless this copy may make L's runtime; then names this copy as
** its owner in L's registry.
** Requires: L has no runtime of this copy's yet.
*/
void goroB_onecopy_check(lua_State *L) {
  Dl_info mine, theirs;
  void *global = dlsym(RTLD_DEFAULT, "luaopen_goro_core");
  const void *owner;

  lua_getfield(L, LUA_REGISTRYINDEX, COPY_KEY);
  owner = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (owner != NULL && owner != &copy_id) refuse(L, owner);
  if (global != NULL && dladdr(global, &theirs) != 0 &&
      dladdr(&copy_id, &mine) != 0 && theirs.dli_fbase != mine.dli_fbase)
    refuse(L, global);
  if (owner == NULL) {
    lua_pushlightuserdata(L, (void *)&copy_id);
    lua_setfield(L, LUA_REGISTRYINDEX, COPY_KEY);
  }
}
