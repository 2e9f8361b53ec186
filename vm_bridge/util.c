/*
** vm_bridge/util.c — small helpers every file of the bridge may use: the
** calling thread's error text (goro_errmsg) and introspection's t[k] = v.
**
** No state but the error text, which is per thread (TLS), so nothing here
** needs the P or a lock. Nothing here includes another bridge file's
** header: util.c sits below every other file of vm_bridge/.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "bridge.h"

/* ---- the last error of each thread ---------------------------------------- */

/* A heap buffer behind an 8-byte TLS pointer (the module uses static TLS,
** which has little room), freed by a key destructor when the thread exits. */
#define ERRMSG_SIZE 4096
static __thread char *errmsg __attribute__((tls_model("initial-exec")));
static pthread_key_t errmsg_key;
static pthread_once_t errmsg_once = PTHREAD_ONCE_INIT;

static void errmsg_key_make(void) { pthread_key_create(&errmsg_key, free); }

void goroB_seterr(const char *msg) {
  if (errmsg == NULL) {
    pthread_once(&errmsg_once, errmsg_key_make);
    if ((errmsg = malloc(ERRMSG_SIZE)) == NULL) return;
    pthread_setspecific(errmsg_key, errmsg);
  }
  snprintf(errmsg, ERRMSG_SIZE, "%s", msg ? msg : "(error is not a string)");
}

GORO_EXPORT const char *goro_errmsg(void) {
  return errmsg != NULL ? errmsg : "";
}

/* ---- introspection tables ------------------------------------------------ */

void goroB_setint(lua_State *L, const char *k, uint64_t v) {
  lua_pushinteger(L, (lua_Integer)v);
  lua_setfield(L, -2, k);
}
