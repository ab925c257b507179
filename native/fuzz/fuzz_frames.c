/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_frames -- libFuzzer harness for the simulator's frame parser and everything behind it: each
 * input is written, as raw bytes, down a fresh connection to a live simulator (the runner starts
 * one and names its socket in VMKMGMT_FUZZ_SIM_SOCKET); then a second connection must get an
 * answer to a CONTROL status request within FUZZ_SIM_DEADLINE_MS, or the input is reported as a
 * crash (libFuzzer keeps it). The simulator is JavaScript, so compiler coverage cannot see into it;
 * instead what it answers (each frame's type, and the gist of each ERROR text, digits left out) is
 * counted in libFuzzer's extra counters, so an input that makes the simulator say something new
 * is kept and mutated further.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "wire.h"

#define FUZZ_SIM_DEADLINE_MS 5000

static struct sockaddr_un addr = {.sun_family = AF_UNIX};

static int dial(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue; /* libFuzzer's alarm */
    if (r <= 0) return;                    /* the simulator hung up on us: allowed */
    p += r;
    n -= (size_t)r;
  }
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd has something to read, or the deadline passes. libFuzzer's -timeout alarm
 * interrupts poll() every few seconds: that is not the simulator's silence, so wait again. */
static int readable(int fd, long long end) {
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    long long left = end - now_ms();
    if (left <= 0) return 0;
    int r = poll(&p, 1, (int)left);
    if (r > 0) return 1;
    if (r == 0 || errno != EINTR) return 0;
  }
}

/* The simulator answers a status request on a new connection in time. */
static int alive(void) {
  int fd = dial();
  if (fd < 0) return 0;
  static const char req[] = "{\"op\":\"status\"}";
  uint8_t frame[WIRE_HEADER_SIZE + sizeof req - 1];
  wire_put_header(frame, WIRE_CONTROL, 1, sizeof req - 1);
  memcpy(frame + WIRE_HEADER_SIZE, req, sizeof req - 1);
  send_all(fd, frame, sizeof frame);
  uint8_t hdr[WIRE_HEADER_SIZE];
  size_t got = 0;
  long long end = now_ms() + FUZZ_SIM_DEADLINE_MS;
  while (got < sizeof hdr) {
    if (!readable(fd, end)) break;
    ssize_t r = recv(fd, hdr + got, sizeof hdr - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  uint16_t type;
  uint32_t id, len;
  return got == sizeof hdr && wire_get_header(hdr, &type, &id, &len) == 0 && type == WIRE_CONTROL_REPLY;
}

/* What the simulator said, as features (libFuzzer reads this section as extra coverage). */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t answers[4096];

static void count_answer(uint16_t type, const uint8_t *text, size_t n) {
  uint32_t h = 2166136261u * (type + 1u);
  for (size_t i = 0; i < n && i < 48; i++) {
    if (text[i] >= '0' && text[i] <= '9') continue;
    h = (h ^ text[i]) * 16777619u;
  }
  answers[h % sizeof answers]++;
}

/* Reads what the simulator answers until it hangs up (it does once we stop writing). */
static void read_answers(int fd) {
  static uint8_t buf[1 << 16];
  size_t have = 0;
  long long end = now_ms() + FUZZ_SIM_DEADLINE_MS;
  for (;;) {
    if (!readable(fd, end)) return;
    ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    have += (size_t)r;
    size_t off = 0;
    while (have - off >= WIRE_HEADER_SIZE) {
      uint16_t type;
      uint32_t id, len;
      if (wire_get_header(buf + off, &type, &id, &len) != 0) return;
      if (len > sizeof buf - WIRE_HEADER_SIZE) return; /* an event burst: enough said */
      if (have - off - WIRE_HEADER_SIZE < len) break;
      count_answer(type, type == WIRE_ERROR ? buf + off + WIRE_HEADER_SIZE : NULL, type == WIRE_ERROR ? len : 0);
      off += WIRE_HEADER_SIZE + len;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *path = getenv("VMKMGMT_FUZZ_SIM_SOCKET");
  if (!path || strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "fuzz_frames: set VMKMGMT_FUZZ_SIM_SOCKET to a running simulator's socket\n");
    exit(2);
  }
  strcpy(addr.sun_path, path);
  if (!alive()) {
    fprintf(stderr, "fuzz_frames: no simulator answers at %s\n", path);
    exit(2);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int fd = dial();
  if (fd < 0) {
    fprintf(stderr, "fuzz_frames: the simulator no longer accepts connections\n");
    abort();
  }
  send_all(fd, data, size);
  shutdown(fd, SHUT_WR);
  read_answers(fd);
  close(fd);
  if (!alive()) {
    fprintf(stderr, "fuzz_frames: the simulator stopped answering after this input\n");
    abort();
  }
  return 0;
}
