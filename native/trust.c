/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trust.c -- who is at the other end of the socket, checked before a single payload byte is
 * sent (README, "Trust"): the socket's directory must belong to the user (or to root) and be
 * writable by no one else (OpenSSH's StrictModes rule), so no one else can place or swap a socket
 * there; and the process that answers must run as the user or as root (SO_PEERCRED). Anything
 * else is EACCES, with the reason in words for vmkmgmt_CheckKernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "handle.h"
#include "wire.h"

/* Writes a reason (when there is room for one) and returns `rc`. */
int vmkmgmt_say(char *why, size_t len, int rc, const char *fmt, ...) {
  if (why && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* The socket path the library uses: $VMKMGMT_SIM_SOCKET, else the per-user default. */
static int socket_path(struct sockaddr_un *addr, char *why, size_t len) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  const char *env = getenv(WIRE_SOCKET_ENV);
  int n = env && *env ? snprintf(addr->sun_path, sizeof addr->sun_path, "%s", env)
                      : snprintf(addr->sun_path, sizeof addr->sun_path, WIRE_SOCKET_DEFAULT, (unsigned)getuid());
  if (n < 0 || (size_t)n >= sizeof addr->sun_path) {
    return vmkmgmt_say(why, len, EINVAL, "the socket path in %s is longer than %zu bytes", WIRE_SOCKET_ENV,
               sizeof addr->sun_path - 1);
  }
  return 0;
}

/* The socket's directory: a real directory (not a link), the user's and private, or root's and
 * not writable by others. */
static int check_dir(const char *sock, char *why, size_t len) {
  char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
  const char *slash = strrchr(sock, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == sock) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - sock), sock);
  struct stat st;
  if (lstat(dir, &st) != 0) {
    int e = errno;
    return vmkmgmt_say(why, len, EIO, "no kernel: the socket directory %s cannot be read (%s)", dir, strerror(e));
  }
  uid_t me = geteuid();
  unsigned mode = (unsigned)st.st_mode & 07777;
  if (!S_ISDIR(st.st_mode)) {
    return vmkmgmt_say(why, len, EACCES, "the socket directory %s is not a directory (a symbolic link?): refusing it",
               dir);
  }
  if (st.st_uid != me && st.st_uid != 0) {
    return vmkmgmt_say(why, len, EACCES, "the socket directory %s is owned by uid %u, not you (uid %u): refusing it", dir,
               (unsigned)st.st_uid, (unsigned)me);
  }
  if (mode & WIRE_DIR_WRITE_MASK) {
    return vmkmgmt_say(why, len, EACCES,
               "the socket directory %s (owner uid %u, mode %04o) is writable by others: refusing it (chmod go-w "
               "it, or point %s elsewhere)",
               dir, (unsigned)st.st_uid, mode, WIRE_SOCKET_ENV);
  }
  return 0;
}

/* The process at the other end of `fd` runs as the user or as root. */
static int check_peer(int fd, const char *sock, char *why, size_t len) {
  struct ucred cred;
  socklen_t n = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &n) != 0 || n != sizeof cred) {
    return vmkmgmt_say(why, len, EACCES, "cannot tell who runs the kernel at %s: refusing it", sock);
  }
  uid_t me = geteuid();
  if (cred.uid != me && cred.uid != 0) {
    return vmkmgmt_say(why, len, EACCES, "the kernel at %s is run by uid %u, not you (uid %u): refusing it", sock,
               (unsigned)cred.uid, (unsigned)me);
  }
  return vmkmgmt_say(why, len, 0, "the kernel at %s is run by uid %u (pid %d)", sock, (unsigned)cred.uid, (int)cred.pid);
}

int trust_connect(int *out, char *why, size_t len) {
  struct sockaddr_un addr;
  int rc = socket_path(&addr, why, len);
  if (rc != 0) return rc;
  rc = check_dir(addr.sun_path, why, len);
  if (rc != 0) return rc;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return vmkmgmt_say(why, len, EIO, "no socket: %s", strerror(errno));
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    rc = vmkmgmt_say(why, len, EIO, "no kernel listens at %s (%s)", addr.sun_path, strerror(errno));
    goto fail;
  }
  rc = check_peer(fd, addr.sun_path, why, len);
  if (rc != 0) goto fail;
  *out = fd;
  return 0;
fail:
  close(fd);
  return rc;
}

EXPORT int vmkmgmt_CheckKernel(char *why, size_t len) {
  if (why == NULL || len == 0) return EINVAL;
  int fd = -1;
  int rc = trust_connect(&fd, why, len);
  if (rc == 0) close(fd);
  return rc;
}
