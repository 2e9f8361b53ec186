/*
** vm_bridge/sync.h — private to sync.c and sema.c: the helpers every sync
** type shares (sync.c defines them; its header comment has the rules of
** waiting and handing off, and of waiting with a context).
*/
#ifndef GORO_VM_BRIDGE_SYNC_H
#define GORO_VM_BRIDGE_SYNC_H

#include "bridge.h"

#define CTOR_MT_UV lua_upvalueindex(2)  /* a constructor's metatable */

/* A new object of one of the sync types, zeroed (empty queues), with its
** tag and the constructor's metatable (upvalue 2). */
void *goroB_sync_newobj(lua_State *L, size_t size, const void *tag, int nuv);

/* The continuation of a plain park: the waker handed over everything. */
int goroB_sync_granted_k(lua_State *L, int status, lua_KContext ctx);
/* The continuation of a park with a context at index kctx, when leaving
** leaves nothing to redo: true, or nil, err. */
int goroB_sync_ctx_k(lua_State *L, int status, lua_KContext kctx);

/* Queue the running G on q (NULL: on none) and park it until a waker hands
** it what it waits for; with the context x (at index xi; NULL: none), also
** until x ends, then continue with k given xi. vidx: the index of a value
** the wakers read on our stack, or 0. Raises outside a G. May park. */
int goroB_sync_wait(lua_State *L, struct goro_waitq *q, struct goro_context *x,
                    int xi, int vidx, const char *fname, const char *reason,
                    lua_KFunction k);

/* Queue the running G on q alone and park it until a waker readies it,
** then continue with k(kc) (goroB_sync_wait without a context, for a
** caller with a continuation of its own). vidx as there. Raises outside
** a G. May park. */
int goroB_sync_park(lua_State *L, struct goro_waitq *q, int vidx, const char *fname,
                    const char *reason, lua_KContext kc, lua_KFunction k);

/* The context slot i of a blocking call: NULL (none), or the context, the
** stack cut to i; *ended says whether it has ended already. */
struct goro_context *goroB_sync_ctx_arg(lua_State *L, int i, int *ended);
/* The results of a call that did not wait: none, or true with a context. */
int goroB_sync_granted(lua_State *L, struct goro_context *x);
/* Pop the first live waiter of q and ready it: granted. 0 if none was
** left. Requires: the P. */
int goroB_sync_grant_first(struct goro_runtime *R, struct goro_waitq *q);

/* ---- sema.c -------------------------------------------------------------- */

extern const luaL_Reg goroB_sema_methods[];
int goroB_sema_new(lua_State *L);

#endif
