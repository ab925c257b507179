/* SPDX-License-Identifier: Apache-2.0 */
/*
 * null_kernel -- a kernel that answers at once: it speaks PROTOCOL.md on a Unix socket, like the
 * simulator, but does no work, so a benchmark against it measures the client's own cost (the
 * simulator's JavaScript is out of the picture).
 *
 *   null_kernel SOCKET     listens on SOCKET (its directory must exist, mode 0700), until killed
 *
 * Every HELLO is accepted; GET_INSTANCES lists vmnic0 (1) and vmnic1 (2); every INVOKE succeeds at
 * once, returning each fixed parameter and each vector the caller's direction returns (the caller's
 * bytes when it sent them, else zeros) — so an `inout` echo comes back as sent. One callback does
 * work, for event benchmarks: in a session of `acmeNicMgmt`, callback 22 (triggerEvents, u32 count)
 * sends `count` linkEvents (callback 32, 8 bytes) before its reply, within 64 unacknowledged events
 * per session, as the simulator does. Single-threaded, poll(2), non-blocking sockets.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wire.h"

#define MAX_CONNS 1024
#define CREDITS 64
#define TRIGGER_EVENTS 22
#define LINK_EVENT 32

struct conn {
  int fd;
  uint8_t *in;
  size_t in_len, in_cap;
  uint8_t *out;
  size_t out_len, out_cap, out_sent;
  int nic;              /* the session is acmeNicMgmt's */
  uint64_t owed_events; /* linkEvents still to send */
  uint32_t unacked;
  /* a triggerEvents reply, sent once its events have gone out */
  int reply_waiting;
  uint32_t reply_id;
};

static struct conn conns[MAX_CONNS];
static int nconns;

static void put(struct conn *c, const void *p, size_t n) {
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 65536;
    while (cap < c->out_len + n) cap *= 2;
    uint8_t *grown = realloc(c->out, cap);
    if (!grown) abort();
    c->out = grown;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
}

static void frame(struct conn *c, uint16_t type, uint32_t id, const void *payload, size_t n) {
  uint8_t hdr[WIRE_HEADER_SIZE];
  wire_put_header(hdr, type, id, (uint32_t)n);
  put(c, hdr, sizeof hdr);
  if (n) put(c, payload, n);
}

static void reply_status(struct conn *c, uint16_t type, uint32_t id, int status, unsigned n) {
  uint8_t head[WIRE_REPLY_LENGTHS + 8 * VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  wire_put_u32(head + WIRE_STATUS, (uint32_t)status);
  wire_put_u32(head + WIRE_REPLY_NUMPARMS, n);
  frame(c, type, id, head, type == WIRE_INVOKE_REPLY ? WIRE_REPLY_LENGTHS + 8 * (size_t)n : 8);
}

/* Sends the linkEvents owed, within the credits; then the reply that waited for them. */
static void pump_events(struct conn *c) {
  while (c->owed_events > 0 && c->unacked < CREDITS) {
    uint8_t ev[WIRE_EVENT_LENGTHS + 8 + 8] = {0};
    wire_put_u64(ev + WIRE_EVENT_INSTANCE, 1);
    wire_put_u64(ev + WIRE_EVENT_CALLBACK, LINK_EVENT);
    wire_put_u32(ev + WIRE_EVENT_NUMPARMS, 1);
    wire_put_u64(ev + WIRE_EVENT_LENGTHS, 8);
    wire_put_u64(ev + WIRE_EVENT_LENGTHS + 8, c->owed_events);
    frame(c, WIRE_EVENT, 0, ev, sizeof ev);
    c->owed_events--;
    c->unacked++;
  }
  if (c->owed_events == 0 && c->reply_waiting) {
    c->reply_waiting = 0;
    reply_status(c, WIRE_INVOKE_REPLY, c->reply_id, 0, 1);
    /* (the reply echoes the one parameter's length) */
    wire_put_u64(c->out + c->out_len - 8, 4);
  }
}

static void invoke(struct conn *c, uint32_t id, const uint8_t *p, uint32_t len) {
  if (len < WIRE_INVOKE_HEADER_SIZE) return reply_status(c, WIRE_INVOKE_REPLY, id, EINVAL, 0);
  unsigned n = p[WIRE_INVOKE_NUMPARMS];
  uint64_t callback = wire_get_u64(p + WIRE_INVOKE_CALLBACK);
  if (n > VMK_MGMT_MAX_CALLBACK_PARMS || len < wire_invoke_data(n))
    return reply_status(c, WIRE_INVOKE_REPLY, id, EINVAL, 0);
  uint64_t off = wire_invoke_data(n), out = wire_reply_data(n);
  uint8_t head[WIRE_REPLY_LENGTHS + 8 * VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  const uint8_t *data[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  uint64_t length[VMK_MGMT_MAX_CALLBACK_PARMS] = {0};
  uint32_t returned = 0;
  for (unsigned i = 0; i < n; i++) {
    const uint8_t *d = p + WIRE_INVOKE_HEADER_SIZE + WIRE_PARM_DESC_SIZE * i;
    vmk_MgmtParmType type = (vmk_MgmtParmType)d[WIRE_PARM_TYPE];
    length[i] = wire_get_u64(d + WIRE_PARM_LENGTH);
    if (d[WIRE_PARM_FLAGS] & WIRE_PARM_DATA) {
      if (off + length[i] > len) return reply_status(c, WIRE_INVOKE_REPLY, id, EINVAL, 0);
      data[i] = p + off;
      off += length[i];
    }
    if (!parm_is_vector(type) || parm_returns(type)) {
      returned |= 1u << i;
      out += length[i];
    }
    wire_put_u64(head + WIRE_REPLY_LENGTHS + 8 * i, length[i]);
  }
  if (c->nic && callback == TRIGGER_EVENTS && n == 1 && data[0] && length[0] == 4) {
    c->owed_events += wire_get_u32(data[0]);
    c->reply_waiting = 1;
    c->reply_id = id;
    return pump_events(c);
  }
  wire_put_u32(head + WIRE_REPLY_NUMPARMS, n);
  wire_put_u32(head + WIRE_REPLY_RETURNED, returned);
  uint8_t hdr[WIRE_HEADER_SIZE];
  wire_put_header(hdr, WIRE_INVOKE_REPLY, id, (uint32_t)out);
  put(c, hdr, sizeof hdr);
  put(c, head, (size_t)wire_reply_data(n));
  for (unsigned i = 0; i < n; i++) {
    if (!(returned & (1u << i))) continue;
    if (data[i]) {
      put(c, data[i], (size_t)length[i]);
    } else {
      static const uint8_t zeros[4096];
      for (uint64_t left = length[i]; left > 0;) {
        size_t k = left < sizeof zeros ? (size_t)left : sizeof zeros;
        put(c, zeros, k);
        left -= k;
      }
    }
  }
}

/* One whole frame; 0, or -1 to close the connection. */
static int handle(struct conn *c, uint16_t type, uint32_t id, const uint8_t *p, uint32_t len) {
  switch (type) {
    case WIRE_HELLO: {
      if (len < WIRE_HELLO_SIZE) return -1;
      c->nic = strncmp((const char *)p + WIRE_HELLO_NAME, "acmeNicMgmt", WIRE_NAME_SIZE) == 0;
      static const char peer[] = "vmkmgmt null kernel";
      uint8_t reply[WIRE_HELLO_REPLY_SIZE + sizeof peer - 1] = {0};
      wire_put_u64(reply + WIRE_HELLO_REPLY_SESSION, (uint64_t)(c - conns) + 1);
      reply[WIRE_HELLO_REPLY_PEER_LENGTH] = (uint8_t)(sizeof peer - 1);
      memcpy(reply + WIRE_HELLO_REPLY_SIZE, peer, sizeof peer - 1);
      frame(c, WIRE_HELLO_REPLY, id, reply, sizeof reply);
      return 0;
    }
    case WIRE_GET_INSTANCES: {
      uint8_t msg[WIRE_INSTANCES_ENTRIES + 2 * WIRE_INSTANCE_SIZE] = {0};
      wire_put_u32(msg + WIRE_INSTANCES_COUNT, 2);
      for (unsigned i = 0; i < 2; i++) {
        uint8_t *e = msg + WIRE_INSTANCES_ENTRIES + WIRE_INSTANCE_SIZE * i;
        wire_put_u64(e + WIRE_INSTANCE_ID, i + 1);
        wire_put_name(e + WIRE_INSTANCE_NAME, i ? "vmnic1" : "vmnic0");
      }
      frame(c, WIRE_INSTANCES, id, msg, sizeof msg);
      return 0;
    }
    case WIRE_INVOKE: invoke(c, id, p, len); return 0;
    case WIRE_EVENT_ACK:
      if (len != WIRE_ACK_SIZE) return -1;
      c->unacked = wire_get_u32(p) > c->unacked ? 0 : c->unacked - wire_get_u32(p);
      pump_events(c);
      return 0;
    case WIRE_COPY_REPLY: return 0; /* it never asks */
    default: return -1;
  }
}

static void drop(int i) {
  close(conns[i].fd);
  free(conns[i].in);
  free(conns[i].out);
  conns[i] = conns[--nconns];
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: null_kernel SOCKET\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(argv[1]) >= sizeof addr.sun_path) return 2;
  strcpy(addr.sun_path, argv[1]);
  unlink(argv[1]);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 128) != 0) {
    perror("null_kernel");
    return 1;
  }
  printf("null kernel listening on %s\n", argv[1]);
  fflush(stdout);
  struct pollfd pfd[MAX_CONNS + 1];
  for (;;) {
    pfd[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
    for (int i = 0; i < nconns; i++) {
      struct conn *c = &conns[i];
      pfd[1 + i] = (struct pollfd){.fd = c->fd, .events = POLLIN | (c->out_sent < c->out_len ? POLLOUT : 0)};
    }
    if (poll(pfd, (nfds_t)(1 + nconns), -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = nconns - 1; i >= 0; i--) {
      struct conn *c = &conns[i];
      short re = pfd[1 + i].revents;
      int closing = 0;
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        if (c->in_cap - c->in_len < 65536) {
          size_t cap = c->in_cap ? c->in_cap * 2 : 131072;
          uint8_t *grown = realloc(c->in, cap);
          if (!grown) abort();
          c->in = grown;
          c->in_cap = cap;
        }
        ssize_t k = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
        if (k > 0) c->in_len += (size_t)k;
        else if (k == 0 || (errno != EAGAIN && errno != EINTR)) closing = 1;
        size_t at = 0;
        while (!closing && c->in_len - at >= WIRE_HEADER_SIZE) {
          uint16_t type;
          uint32_t id, len;
          if (wire_get_header(c->in + at, &type, &id, &len) != 0) {
            closing = 1;
            break;
          }
          if (c->in_len - at < WIRE_HEADER_SIZE + (size_t)len) break;
          if (handle(c, type, id, c->in + at + WIRE_HEADER_SIZE, len) != 0) closing = 1;
          at += WIRE_HEADER_SIZE + len;
        }
        memmove(c->in, c->in + at, c->in_len - at);
        c->in_len -= at;
      }
      while (!closing && c->out_sent < c->out_len) {
        ssize_t k = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) c->out_sent += (size_t)k;
        else if (k < 0 && errno != EAGAIN && errno != EINTR) closing = 1;
        else break;
      }
      if (c->out_sent == c->out_len) c->out_sent = c->out_len = 0;
      if (closing) drop(i);
    }
    if (pfd[0].revents & POLLIN) {
      int fd;
      while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        if (nconns == MAX_CONNS) {
          close(fd);
          continue;
        }
        conns[nconns++] = (struct conn){.fd = fd};
      }
    }
  }
}
