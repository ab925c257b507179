/* SPDX-License-Identifier: Apache-2.0 */
/*
 * remote.c -- a kernel on another host. The library starts `ssh [options] host -- vmkmgmt-bridge`
 * (or, for the host "@local", the bridge command itself) with one end of a socketpair as its stdin
 * and stdout, and speaks the same protocol over it as over the simulator's socket.
 *
 * Who answers is checked by ssh (the host key against known_hosts; BatchMode, so an unknown host or
 * a missing key fails instead of prompting on a terminal the user cannot see) and then by HELLO
 * (the bridge names itself; a peer that does not speak the protocol is EIO). Sessions to one host
 * share one SSH connection through OpenSSH's ControlMaster: one authentication, one TCP connection,
 * and still one bridge process per session, so a session that crashes in a vendor's library takes
 * no other session with it. The child runs in its own process group: a Ctrl-C meant for the REPL
 * does not cut the connections. What ssh or the bridge writes on stderr goes to a memory file, read
 * back for the error message when the connection fails.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "handle.h"
#include "wire.h"

extern char **environ;

#define MAX_ARGS 96
#define MAX_WORDS_CHARS 4096

/* An argument vector built in one buffer (no allocation to free on every path). */
struct argv {
  char *v[MAX_ARGS + 1];
  int n;
  char chars[MAX_WORDS_CHARS];
  size_t used;
};

static int push(struct argv *a, const char *word, size_t len) {
  if (a->n >= MAX_ARGS || a->used + len + 1 > sizeof a->chars) return E2BIG;
  char *w = a->chars + a->used;
  memcpy(w, word, len);
  w[len] = 0;
  a->used += len + 1;
  a->v[a->n++] = w;
  a->v[a->n] = NULL;
  return 0;
}

static int push_str(struct argv *a, const char *word) { return push(a, word, strlen(word)); }

/* Splits `text` at blanks (no quoting: a word with a space belongs in ~/.ssh/config). */
static int push_words(struct argv *a, const char *text) {
  const char *p = text;
  while (*p) {
    while (*p == ' ' || *p == '\t') p++;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t') p++;
    if (p > start) {
      int rc = push(a, start, (size_t)(p - start));
      if (rc != 0) return rc;
    }
  }
  return 0;
}

/* "[user@]host[:port]" or "[user@][v6addr]:port", split; EINVAL (with why) for anything else, and
 * above all for a host that starts with '-', which ssh would take for an option. */
struct target {
  char user[64];
  char name[256];
  char port[8];
};

static int parse_host(const char *host, struct target *t, char *why, size_t len) {
  memset(t, 0, sizeof *t);
  if (host[0] == '-') return vmkmgmt_say(why, len, EINVAL, "host %s: a host may not start with '-' (ssh would read an option)", host);
  const char *at = strchr(host, '@');
  const char *rest = host;
  if (at) {
    size_t n = (size_t)(at - host);
    if (n == 0 || n >= sizeof t->user) return vmkmgmt_say(why, len, EINVAL, "host %s: the user name is empty or too long", host);
    for (size_t i = 0; i < n; i++) {
      if (!isalnum((unsigned char)host[i]) && !strchr("._-", host[i]))
        return vmkmgmt_say(why, len, EINVAL, "host %s: the user name may hold letters, digits, '.', '_' and '-'", host);
    }
    if (host[0] == '-') return vmkmgmt_say(why, len, EINVAL, "host %s: a user name may not start with '-'", host);
    memcpy(t->user, host, n);
    rest = at + 1;
  }
  const char *port = NULL;
  size_t name_len;
  if (rest[0] == '[') {
    const char *close = strchr(rest, ']');
    if (!close) return vmkmgmt_say(why, len, EINVAL, "host %s: '[' without ']'", host);
    name_len = (size_t)(close - rest - 1);
    if (name_len >= sizeof t->name) return vmkmgmt_say(why, len, EINVAL, "host %s: the address is too long", host);
    memcpy(t->name, rest + 1, name_len);
    if (close[1] == ':') port = close + 2;
    else if (close[1] != 0) return vmkmgmt_say(why, len, EINVAL, "host %s: expected ':port' after ']'", host);
    for (size_t i = 0; i < name_len; i++) {
      if (!isxdigit((unsigned char)t->name[i]) && t->name[i] != ':' && t->name[i] != '.')
        return vmkmgmt_say(why, len, EINVAL, "host %s: not an IPv6 address in brackets", host);
    }
  } else {
    const char *colon = strchr(rest, ':');
    name_len = colon ? (size_t)(colon - rest) : strlen(rest);
    if (colon) port = colon + 1;
    if (name_len >= sizeof t->name) return vmkmgmt_say(why, len, EINVAL, "host %s: the name is too long", host);
    memcpy(t->name, rest, name_len);
    for (size_t i = 0; i < name_len; i++) {
      if (!isalnum((unsigned char)t->name[i]) && t->name[i] != '.' && t->name[i] != '-' && t->name[i] != '_')
        return vmkmgmt_say(why, len, EINVAL, "host %s: a host name holds letters, digits, '.', '-' and '_'", host);
    }
  }
  if (name_len == 0) return vmkmgmt_say(why, len, EINVAL, "host %s: no host name", host);
  if (t->name[0] == '-') return vmkmgmt_say(why, len, EINVAL, "host %s: a host name may not start with '-'", host);
  if (port) {
    char *end = NULL;
    long p = strtol(port, &end, 10);
    if (*port == 0 || *end != 0 || p < 1 || p > 65535 || strlen(port) >= sizeof t->port)
      return vmkmgmt_say(why, len, EINVAL, "host %s: the port must be 1..65535", host);
    snprintf(t->port, sizeof t->port, "%ld", p);
  }
  return 0;
}

/* The directory for ControlMaster sockets: the user's own, closed to others. */
static int control_dir(char *dir, size_t size, char *why, size_t len) {
  uid_t me = geteuid();
  snprintf(dir, size, "/tmp/vmkmgmt-%u", (unsigned)me);
  for (int level = 0; level < 2; level++) {
    if (level == 1) strncat(dir, "/ssh", size - strlen(dir) - 1);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
      return vmkmgmt_say(why, len, EIO, "cannot create %s: %s", dir, strerror(errno));
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != me || (st.st_mode & 077) != 0)
      return vmkmgmt_say(why, len, EACCES, "%s must be a directory of yours closed to others (chmod 700 %s)", dir, dir);
  }
  return 0;
}

/* The command line for `host`: the bridge itself for "@local", else ssh to it. */
static int build_argv(const char *host, struct argv *a, char *why, size_t len) {
  const char *bridge = getenv(WIRE_BRIDGE_ENV);
  if (!bridge || !*bridge) bridge = WIRE_BRIDGE_DEFAULT;
  a->n = 0;
  a->used = 0;
  a->v[0] = NULL;
  if (strcmp(host, WIRE_LOCAL_HOST) == 0) {
    int rc = push_words(a, bridge);
    if (rc == 0 && a->n == 0) rc = EINVAL;
    return rc == 0 ? 0 : vmkmgmt_say(why, len, EINVAL, "%s: not a usable command line", WIRE_BRIDGE_ENV);
  }
  struct target t;
  int rc = parse_host(host, &t, why, len);
  if (rc != 0) return rc;
  char dir[128], path[160];
  rc = control_dir(dir, sizeof dir, why, len);
  if (rc != 0) return rc;
  snprintf(path, sizeof path, "ControlPath=%s/%%C", dir);
  const char *ssh_opts = getenv(WIRE_SSH_ENV);
  /* ssh keeps the first value it gets for an option: the user's come before our defaults. */
  rc = push_str(a, "ssh");
  if (rc == 0 && ssh_opts) rc = push_words(a, ssh_opts);
  const char *defaults[] = {"-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", path,
                            "-o", "ControlPersist=60", "-o", "ServerAliveInterval=5", "-o",
                            "ServerAliveCountMax=3", "-o", "ConnectTimeout=10", "-T", "-e", "none"};
  for (size_t i = 0; rc == 0 && i < sizeof defaults / sizeof *defaults; i++) rc = push_str(a, defaults[i]);
  if (rc == 0 && t.port[0]) rc = push_str(a, "-p") || push_str(a, t.port);
  if (rc == 0 && t.user[0]) rc = push_str(a, "-l") || push_str(a, t.user);
  if (rc == 0) rc = push_str(a, t.name);
  if (rc == 0) rc = push_str(a, "--");
  if (rc == 0) rc = push_str(a, bridge);
  return rc == 0 ? 0 : vmkmgmt_say(why, len, EINVAL, "%s and %s make too long a command line", WIRE_SSH_ENV,
                           WIRE_BRIDGE_ENV);
}

/* Starts the bridge for `host`; *fd is our end of its stdin/stdout. */
int remote_connect(const char *host, int *fd, pid_t *pid, int *errfd, char *why, size_t len) {
  struct argv a;
  int sv[2] = {-1, -1};
  int err = -1;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int have_fa = 0, have_attr = 0;
  int rc = build_argv(host, &a, why, len);
  if (rc != 0) goto out;
  rc = EIO;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    vmkmgmt_say(why, len, rc, "socketpair: %s", strerror(errno));
    goto out;
  }
  if ((err = memfd_create("vmkmgmt-remote-stderr", MFD_CLOEXEC)) < 0) {
    vmkmgmt_say(why, len, rc, "memfd_create: %s", strerror(errno));
    goto out;
  }
  if (posix_spawn_file_actions_init(&fa) != 0) goto out;
  have_fa = 1;
  if (posix_spawnattr_init(&attr) != 0) goto out;
  have_attr = 1;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  if (posix_spawn_file_actions_adddup2(&fa, sv[1], 0) != 0 || posix_spawn_file_actions_adddup2(&fa, sv[1], 1) != 0 ||
      posix_spawn_file_actions_adddup2(&fa, err, 2) != 0 || posix_spawnattr_setsigmask(&attr, &none) != 0 ||
      posix_spawnattr_setsigdefault(&attr, &all) != 0 || posix_spawnattr_setpgroup(&attr, 0) != 0 ||
      posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP) != 0)
    goto out;
  int e = posix_spawnp(pid, a.v[0], &fa, &attr, a.v, environ);
  if (e != 0) {
    rc = e == ENOENT ? ENOENT : EIO;
    vmkmgmt_say(why, len, rc, "cannot run %s: %s%s", a.v[0], strerror(e),
        strcmp(a.v[0], "ssh") == 0 ? " (install OpenSSH's client: apt-get install openssh-client)" : "");
    goto out;
  }
  *fd = sv[0];
  sv[0] = -1;
  *errfd = err;
  err = -1;
  rc = 0;
out:
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_attr) posix_spawnattr_destroy(&attr);
  if (sv[0] >= 0) close(sv[0]);
  if (sv[1] >= 0) close(sv[1]);
  if (err >= 0) close(err);
  return rc;
}

/* Appends the last line(s) the child wrote on stderr to `why` (ssh's reason for failing). */
void remote_reason(int errfd, char *why, size_t len) {
  if (errfd < 0 || !why || len == 0) return;
  struct stat st;
  if (fstat(errfd, &st) != 0 || st.st_size == 0) return;
  char tail[512];
  off_t from = st.st_size > (off_t)sizeof tail - 1 ? st.st_size - (off_t)sizeof tail + 1 : 0;
  ssize_t n = pread(errfd, tail, sizeof tail - 1, from);
  if (n <= 0) return;
  tail[n] = 0;
  while (n > 0 && (tail[n - 1] == '\n' || tail[n - 1] == '\r')) tail[--n] = 0;
  /* The last two lines: ssh's warnings come first, its reason last. */
  char *text = tail;
  int seen = 0;
  for (char *c = tail + n - 1; c >= tail; c--) {
    if (*c == '\n' && ++seen == 2) {
      text = c + 1;
      break;
    }
  }
  for (char *c = text; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  size_t used = strnlen(why, len);
  if (used + 3 < len) snprintf(why + used, len - used, "%s%s", used ? ": " : "", text);
}

/* Waits up to `ms` for the child to exit; 1 when it has. */
int remote_exited(pid_t pid, int ms) {
  for (int waited = 0; waited <= ms; waited += 10) {
    pid_t r = waitpid(pid, NULL, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return 1;
    nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
  }
  return 0;
}

/* Ends the child once its connection is closed: it gets a second to leave by itself (a bridge
 * closes the real handle on EOF), then SIGTERM, then SIGKILL. */
void remote_reap(pid_t pid, int errfd) {
  if (errfd >= 0) close(errfd);
  if (pid <= 0) return;
  if (remote_exited(pid, 1000)) return;
  kill(pid, SIGTERM);
  if (remote_exited(pid, 1000)) return;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}
