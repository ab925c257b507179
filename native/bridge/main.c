/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmkmgmt-bridge -- carries the vmkmgmt wire protocol (PROTOCOL.md) from stdin/stdout to a real
 * libvmkmgmt.so, so a workstation drives an ESXi host's kernel modules over `ssh host
 * vmkmgmt-bridge`. It has no listener of its own: SSH authenticates, and one bridge process
 * serves one session (OpenSSH's ControlMaster shares the connection between sessions).
 *
 *   vmkmgmt-bridge [--lib PATH] [--record FILE]   serve one session (default library:
 *                                 /lib64/libvmkmgmt.so); --record: record what it does there
 *   vmkmgmt-bridge --version      print the version and exit
 *
 * This file is the process: its arguments and the real library (dlopen). The session itself is
 * session.c's, which the fuzz harness (fuzz/fuzz_bridge.c) drives with a library of its own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"

#define DEFAULT_LIB "/lib64/libvmkmgmt.so"

static const char USAGE[] =
    "usage: vmkmgmt-bridge [--lib PATH] [--record FILE] | --version | --help\n"
    "Serves one vmkmgmt session on stdin/stdout (run by ssh for the vmkmgmt Deno module, with\n"
    "VMKMGMT_HOST=host on the workstation). --lib: the vmk_Mgmt library (default " DEFAULT_LIB ").\n"
    "--record FILE: record every call the session makes there (libvmkmgmt-record.so, beside this\n"
    "program; %p in FILE is the process id), for deno task trace and deno task sim --replay.\n";

/* Set in the environment of the bridge that --record starts again under the recorder. */
#define RECORDING_ENV "VMKMGMT_BRIDGE_RECORDING"

/* --record: runs this program again with the recorder (libvmkmgmt-record.so, beside it) preloaded
 * and VMKMGMT_RECORD set; returns only when that cannot be done (the reason on stderr: 2). The
 * recorder must be a regular file that only its owner (this process's user, or root) can change:
 * the bridge runs as root on hosts, and what it preloads runs as root too. */
static int record_again(char **argv, const char *file) {
  char self[PATH_MAX], recorder[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "vmkmgmt-bridge: --record: cannot find this program (%s)\n", strerror(errno));
    return 2;
  }
  self[n] = 0;
  char *slash = strrchr(self, '/');
  snprintf(recorder, sizeof recorder, "%.*s/libvmkmgmt-record.so", (int)(slash ? slash - self : 0), self);
  /* The system call, not glibc's stat(): that is a symbol only since glibc 2.33, newer than hosts'
   * (glibc_compat.h); x86_64's struct stat is the kernel's. */
  struct stat st;
  if (syscall(SYS_stat, recorder, &st) != 0) {
    fprintf(stderr, "vmkmgmt-bridge: --record needs %s (it comes in the bundle): %s\n", recorder, strerror(errno));
    return 2;
  }
  if (!S_ISREG(st.st_mode) || (st.st_mode & 022) || (st.st_uid != 0 && st.st_uid != geteuid())) {
    fprintf(stderr, "vmkmgmt-bridge: --record: %s must be a file only its owner (root, or uid %u) may change\n",
            recorder, (unsigned)geteuid());
    return 2;
  }
  const char *before = getenv("LD_PRELOAD");
  char preload[PATH_MAX * 2 + 64];
  snprintf(preload, sizeof preload, "%s%s%s", recorder, before && *before ? " " : "", before ? before : "");
  if (setenv("LD_PRELOAD", preload, 1) != 0 || setenv("VMKMGMT_RECORD", file, 1) != 0 ||
      setenv(RECORDING_ENV, "1", 1) != 0) {
    fprintf(stderr, "vmkmgmt-bridge: --record: %s\n", strerror(errno));
    return 2;
  }
  execv(self, argv);
  fprintf(stderr, "vmkmgmt-bridge: --record: cannot start %s again (%s)\n", self, strerror(errno));
  return 2;
}

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
  *(void **)&b->lib.record_buffers = dlsym(RTLD_DEFAULT, "vmkmgmt_RecordBufferFields");
  *(void **)&b->lib.queue_create = dlsym(b->lib.dl, "vmkmgmt_QueueCreate");
  *(void **)&b->lib.queue_destroy = dlsym(b->lib.dl, "vmkmgmt_QueueDestroy");
  *(void **)&b->lib.queue_on_ring = dlsym(b->lib.dl, "vmkmgmt_QueueOnRing");
  *(void **)&b->lib.attach_completions = dlsym(b->lib.dl, "vmkmgmt_UserAttachCompletions");
  *(void **)&b->lib.submit = dlsym(b->lib.dl, "vmkmgmt_UserSubmit");
  *(void **)&b->lib.flush = dlsym(b->lib.dl, "vmkmgmt_UserFlush");
  *(void **)&b->lib.queue_drain = dlsym(b->lib.dl, "vmkmgmt_QueueDrain");
  if (!b->lib.init || !b->lib.get_instances || !b->lib.begin || !b->lib.end || !b->lib.destroy || !b->lib.invoke)
    snprintf(b->load_error, sizeof b->load_error, "%s is not a vmk_Mgmt library (a vmk_MgmtUser* function is missing)",
             b->lib_path);
}

int main(int argc, char **argv) {
  struct bridge b;
  const char *lib_path = DEFAULT_LIB;
  const char *record = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) {
      printf("vmkmgmt-bridge %s (protocol %d)\n", BRIDGE_VERSION, WIRE_VERSION);
      return 0;
    } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(USAGE, stdout);
      return 0;
    } else if (strcmp(argv[i], "--lib") == 0 || strcmp(argv[i], "--record") == 0) {
      if (i + 1 >= argc || !argv[i + 1][0]) {
        fprintf(stderr, "vmkmgmt-bridge: %s needs a value (%s)\n%s", argv[i],
                argv[i][2] == 'l' ? "the library's path" : "the trace file's path", USAGE);
        return 2;
      }
      if (argv[i][2] == 'l') lib_path = argv[++i];
      else record = argv[++i];
    } else {
      fprintf(stderr, "vmkmgmt-bridge: unknown argument %s\n%s", argv[i], USAGE);
      return 2;
    }
  }
  if (record && !getenv(RECORDING_ENV)) return record_again(argv, record);
  unsetenv(RECORDING_ENV);
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
