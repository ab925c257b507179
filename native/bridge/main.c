/*
 * vmkmgmt-bridge -- carries the vmkmgmt wire protocol (PROTOCOL.md) from stdin/stdout to a real
 * libvmkmgmt.so, so a workstation drives an ESXi host's kernel modules over `ssh host
 * vmkmgmt-bridge`. It has no listener of its own: SSH authenticates, and one bridge process
 * serves one session (OpenSSH's ControlMaster shares the connection between sessions).
 *
 *   vmkmgmt-bridge [--lib PATH]   serve one session (default library: /lib64/libvmkmgmt.so)
 *   vmkmgmt-bridge --version      print the version and exit
 *
 * This file is the process: its arguments and the real library (dlopen). The session itself is
 * session.c's, which the fuzz harness (fuzz/fuzz_bridge.c) drives with a library of its own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

#define DEFAULT_LIB "/lib64/libvmkmgmt.so"

static const char USAGE[] =
    "usage: vmkmgmt-bridge [--lib PATH] | --version | --help\n"
    "Serves one vmkmgmt session on stdin/stdout (run by ssh for the vmkmgmt Deno module, with\n"
    "VMKMGMT_HOST=host on the workstation). --lib: the vmk_Mgmt library (default " DEFAULT_LIB ").\n";

/* Loads the real library; on failure says why in b->load_error (told to the client in HELLO_REPLY). */
static void load_library(struct bridge *b) {
  b->lib.dl = dlopen(b->lib_path, RTLD_NOW | RTLD_LOCAL);
  if (!b->lib.dl) {
    snprintf(b->load_error, sizeof b->load_error, "cannot load %s: %s", b->lib_path, dlerror());
    return;
  }
  /* POSIX: a function pointer comes out of dlsym as a void * (the conversion is what dlsym(3) shows). */
  *(void **)&b->lib.init = dlsym(b->lib.dl, "vmk_MgmtUserInit");
  *(void **)&b->lib.get_instances = dlsym(b->lib.dl, "vmk_MgmtUserGetInstances");
  *(void **)&b->lib.begin = dlsym(b->lib.dl, "vmk_MgmtUserBegin");
  *(void **)&b->lib.end = dlsym(b->lib.dl, "vmk_MgmtUserEnd");
  *(void **)&b->lib.destroy = dlsym(b->lib.dl, "vmk_MgmtUserDestroy");
  *(void **)&b->lib.invoke = dlsym(b->lib.dl, "vmk_MgmtUserCallbackInvokeInt");
  *(void **)&b->lib.init_with = dlsym(b->lib.dl, "vmkmgmt_UserInitWith");
  *(void **)&b->lib.on_disconnect = dlsym(b->lib.dl, "vmkmgmt_UserOnDisconnect");
  *(void **)&b->lib.event_stats = dlsym(b->lib.dl, "vmkmgmt_UserEventStats");
  if (!b->lib.init || !b->lib.get_instances || !b->lib.begin || !b->lib.end || !b->lib.destroy || !b->lib.invoke)
    snprintf(b->load_error, sizeof b->load_error, "%s is not a vmk_Mgmt library (a vmk_MgmtUser* function is missing)",
             b->lib_path);
}

int main(int argc, char **argv) {
  struct bridge b;
  const char *lib_path = DEFAULT_LIB;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("vmkmgmt-bridge %s (protocol %d)\n", BRIDGE_VERSION, WIRE_VERSION);
      return 0;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc) {
      lib_path = argv[++i];
    } else {
      fprintf(stderr, "vmkmgmt-bridge: unknown argument %s\n%s", argv[i], USAGE);
      return 2;
    }
  }
  /* The library behind us must reach its kernel, not start another bridge. */
  unsetenv(WIRE_HOST_ENV);
  signal(SIGPIPE, SIG_IGN);
  bridge_init(&b, 0, 1);
  b.lib_path = lib_path;
  char host[64] = "?";
  gethostname(host, sizeof host - 1);
  snprintf(b.peer, sizeof b.peer, "vmkmgmt-bridge %s on %s, %s", BRIDGE_VERSION, host, lib_path);
  load_library(&b);
  bridge_serve(&b);
  bridge_finish(&b);
  return 0;
}
