/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer.c -- the recorder's disk side: records go into a bounded queue, a thread of ours writes
 * them to $VMKMGMT_RECORD, and the client never waits for the disk.
 *
 * What it gives up: when the disk cannot keep up (or fails, or is full) records are dropped, counted,
 * and a DROPPED record says so where the trace goes on — the client's timing matters more than a
 * complete trace; and records reach the disk in batches (GATHER_NS), so a client killed outright
 * loses up to the last 2 ms of them. A write cut short is cut off the file again (ftruncate), so every record in it
 * stays whole; a client killed mid-write leaves at most its last record torn, which a reader detects
 * by its length and CRC. One process records to one file: the state here is the process's, the
 * handles' records are independent of each other.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../wire.h"
#include "recorder.h"

/* Bytes of records waiting for the disk at most; past it new records are dropped. */
#define QUEUE_LIMIT ((size_t)256 << 20)
/* How long exit waits for the queue to reach the disk. */
#define EXIT_WAIT_SECONDS 2
/* The writer, woken by a record in an empty queue, gathers what follows for this long (or until this
 * much waits) and writes it together: one wake-up of its thread per batch, not one per call — on two
 * CPUs a wake-up per call of a fast client took as much as the call. */
#define GATHER_NS 2000000L
#define GATHER_BYTES ((size_t)1 << 20)

static struct {
  pthread_once_t once;
  pthread_mutex_t lock; /* everything below */
  pthread_cond_t more;  /* a record was queued, or the writer must stop */
  int fd;               /* the trace; -1: not recording */
  pid_t pid;            /* this process's (set by start, and again in a child of fork()) */
  uint64_t start_ns;
  struct record *head, *tail;
  size_t queued; /* bytes */
  uint64_t written, dropped, dropped_bytes, dropped_told;
  int stop, running;
  pthread_t thread;
  uint32_t crc[256];
} w = {
    .once = PTHREAD_ONCE_INIT,
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .more = PTHREAD_COND_INITIALIZER,
    .fd = -1,
};

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

pid_t writer_pid(void) {
  return w.pid ? w.pid : getpid();
}

uint64_t writer_now(void) {
  return mono_ns() - w.start_ns;
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = w.crc[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* (wire.h's little-endian helpers have no u16) */
static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

/* A record of `kind` with room for `cap` payload bytes, whether or not recording is on. */
static struct record *alloc_record(uint16_t kind, size_t cap) {
  struct record *r = cap <= TRACE_MAX_PAYLOAD ? malloc(sizeof *r + TRACE_HEADER_SIZE + cap) : NULL;
  if (!r) return NULL;
  r->next = NULL;
  r->cap = cap;
  r->len = 0;
  memset(r->bytes, 0, TRACE_HEADER_SIZE);
  wire_put_u32(r->bytes, TRACE_MARKER);
  put_u16(r->bytes + 4, kind);
  return r;
}

struct record *record_new(uint16_t kind, size_t cap) {
  if (!writer_on()) return NULL;
  struct record *r = alloc_record(kind, cap);
  if (!r) {
    pthread_mutex_lock(&w.lock);
    w.dropped++;
    w.dropped_bytes += TRACE_HEADER_SIZE + cap;
    pthread_mutex_unlock(&w.lock);
  }
  return r;
}

void record_put(struct record *r, const void *p, size_t n) {
  if (n > r->cap - r->len) n = r->cap - r->len; /* (never: each caller asks for the room it fills) */
  if (n) memcpy(r->bytes + TRACE_HEADER_SIZE + r->len, p, n);
  r->len += n;
}

void record_u8(struct record *r, uint8_t v) {
  record_put(r, &v, 1);
}
void record_u16(struct record *r, uint16_t v) {
  uint8_t b[2];
  put_u16(b, v);
  record_put(r, b, 2);
}
void record_u32(struct record *r, uint32_t v) {
  uint8_t b[4];
  wire_put_u32(b, v);
  record_put(r, b, 4);
}
void record_u64(struct record *r, uint64_t v) {
  uint8_t b[8];
  wire_put_u64(b, v);
  record_put(r, b, 8);
}

/* Puts the payload's length and CRC into a record's header (once its payload is complete). */
static void seal(struct record *r) {
  wire_put_u32(r->bytes + 8, (uint32_t)r->len);
  wire_put_u32(r->bytes + 12, crc32_of(r->bytes + TRACE_HEADER_SIZE, r->len));
}

/* Writes one record whole, or cuts what went out off again: 0, or an errno (then the file ends
 * where it did before). EIO when even that failed: the file is no longer written. */
static int write_record(struct record *r, off_t *end) {
  seal(r);
  size_t total = TRACE_HEADER_SIZE + r->len, done = 0;
  int rc = 0;
  while (done < total) {
    ssize_t k = write(w.fd, r->bytes + done, total - done);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      rc = k < 0 ? errno : ENOSPC;
      break;
    }
    done += (size_t)k;
  }
  if (rc == 0) {
    *end += (off_t)total;
  } else if (done > 0 && ftruncate(w.fd, *end) != 0) {
    rc = EIO;
  }
  return rc;
}

/* A DROPPED or END record, built here (the writer's own). */
static struct record *counts_record(uint16_t kind) {
  struct record *r = alloc_record(kind, 32);
  if (!r) return NULL;
  record_u64(r, writer_now());
  if (kind == TRACE_END) record_u64(r, w.written);
  record_u64(r, w.dropped);
  record_u64(r, w.dropped_bytes);
  return r;
}

/* Records written with one writev at most (well under IOV_MAX). */
#define WRITE_BATCH 64

/* Writes up to WRITE_BATCH records of `list` with one system call: how many went out whole. When
 * it wrote only part of them, the part of a record cut short is cut off again (so the file ends with a
 * whole record) and the rest are left for write_record, which tells why. */
static unsigned write_batch(struct record *list, off_t *end) {
  struct iovec iov[WRITE_BATCH];
  unsigned n = 0;
  size_t total = 0;
  for (struct record *r = list; r && n < WRITE_BATCH; r = r->next, n++) {
    seal(r);
    iov[n] = (struct iovec){r->bytes, TRACE_HEADER_SIZE + r->len};
    total += iov[n].iov_len;
  }
  ssize_t k;
  do k = writev(w.fd, iov, (int)n);
  while (k < 0 && errno == EINTR);
  if (k == (ssize_t)total) {
    *end += (off_t)total;
    return n;
  }
  unsigned whole = 0;
  size_t done = 0;
  while (k > 0 && whole < n && done + iov[whole].iov_len <= (size_t)k) done += iov[whole++].iov_len;
  *end += (off_t)done;
  /* (if even the cut fails, write_record finds the file unwritable in turn and says so) */
  if (k > 0 && (size_t)k > done) (void)!ftruncate(w.fd, *end);
  return whole;
}

/* Puts a batch's records on disk, counting what was written and what dropped (under the lock, once).
 * Whether any was dropped. */
static int write_list(struct record *list, off_t *end) {
  uint64_t written = 0, dropped = 0, dropped_bytes = 0;
  while (list) {
    unsigned whole = w.fd >= 0 ? write_batch(list, end) : 0;
    for (; whole; whole--) {
      struct record *r = list;
      list = r->next;
      free(r);
      written++;
    }
    if (!list) break;
    struct record *r = list; /* the one a batch stopped at: alone, to learn why */
    list = r->next;
    int rc = w.fd >= 0 ? write_record(r, end) : EIO;
    if (rc == 0) {
      written++;
    } else {
      if (!dropped && rc != EIO) {
        pthread_mutex_lock(&w.lock);
        if (!w.dropped) { /* (said once: when the first record is lost) */
          fprintf(stderr,
                  "vmkmgmt-record: cannot write the trace (%s); records are dropped (and counted) until it can\n",
                  strerror(rc));
        }
        pthread_mutex_unlock(&w.lock);
      }
      dropped++;
      dropped_bytes += TRACE_HEADER_SIZE + r->len;
    }
    free(r);
    if (rc == EIO && w.fd >= 0) {
      fprintf(stderr, "vmkmgmt-record: the trace can no longer be written; recording stops\n");
      pthread_mutex_lock(&w.lock);
      close(w.fd);
      w.fd = -1;
      pthread_mutex_unlock(&w.lock);
    }
  }
  pthread_mutex_lock(&w.lock);
  w.written += written;
  w.dropped += dropped;
  w.dropped_bytes += dropped_bytes;
  pthread_mutex_unlock(&w.lock);
  return dropped > 0;
}

static void *writer_main(void *arg) {
  (void)arg;
  off_t end = lseek(w.fd, 0, SEEK_END);
  pthread_mutex_lock(&w.lock);
  for (;;) {
    while (!w.head && !w.stop) pthread_cond_wait(&w.more, &w.lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += GATHER_NS;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!w.stop && w.queued < GATHER_BYTES && pthread_cond_timedwait(&w.more, &w.lock, &until) == 0) {
    }
    struct record *list = w.head;
    w.head = w.tail = NULL;
    w.queued = 0;
    int stopping = w.stop && !list;
    pthread_mutex_unlock(&w.lock);
    int failed = write_list(list, &end);
    pthread_mutex_lock(&w.lock);
    /* Where records went missing, the trace says so once it can be written again. */
    if (!failed && w.fd >= 0 && (w.dropped > w.dropped_told || stopping)) {
      struct record *note = counts_record(stopping ? TRACE_END : TRACE_DROPPED);
      w.dropped_told = w.dropped;
      if (note && write_record(note, &end) == 0 && !stopping) w.written++;
      free(note);
    }
    if (stopping) break;
  }
  w.running = 0;
  if (w.fd >= 0) close(w.fd);
  w.fd = -1;
  pthread_mutex_unlock(&w.lock);
  return NULL;
}

void record_submit(struct record *r) {
  if (!r) return;
  size_t size = TRACE_HEADER_SIZE + r->len;
  pthread_mutex_lock(&w.lock);
  int take = w.running && !w.stop && w.queued + size <= QUEUE_LIMIT;
  if (take) {
    /* The writer hears of the first record of a batch, and of one that fills it (see GATHER_NS). */
    int wake = !w.head || (w.queued < GATHER_BYTES && w.queued + size >= GATHER_BYTES);
    if (w.tail) w.tail->next = r;
    else w.head = r;
    w.tail = r;
    w.queued += size;
    if (wake) pthread_cond_signal(&w.more);
  } else {
    w.dropped++;
    w.dropped_bytes += size;
  }
  pthread_mutex_unlock(&w.lock);
  if (!take) free(r);
}

/* The trace's path: $VMKMGMT_RECORD with each %p the process id (and %% a %). */
static int trace_path(char *out, size_t len) {
  const char *spec = getenv("VMKMGMT_RECORD");
  if (!spec || !*spec) return 0;
  size_t n = 0;
  for (const char *p = spec; *p && n + 1 < len; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      n += (size_t)snprintf(out + n, len - n, "%d", (int)getpid());
      p++;
    } else if (p[0] == '%' && p[1] == '%') {
      out[n++] = '%';
      p++;
    } else {
      out[n++] = *p;
    }
  }
  if (n + 1 >= len) return 0;
  out[n] = 0;
  return 1;
}

/* The program's command line for the START record: its words, each ended by a NUL (at most `len`
 * bytes of them). */
static size_t program_name(char *out, size_t len) {
  FILE *f = fopen("/proc/self/cmdline", "re");
  size_t n = 0;
  if (f) {
    n = fread(out, 1, len, f);
    fclose(f);
  }
  return n;
}

/* A child of fork() has no writer thread: it records nothing (its parent's trace stays whole). */
static void forked_child(void) {
  pthread_mutex_init(&w.lock, NULL);
  w.pid = getpid();
  if (w.fd >= 0) close(w.fd);
  w.fd = -1;
  w.running = 0;
  w.head = w.tail = NULL;
}

static void start(void) {
  w.pid = getpid();
  pthread_atfork(NULL, NULL, forked_child);
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    w.crc[i] = c;
  }
  w.start_ns = mono_ns();
  char path[4096];
  if (!trace_path(path, sizeof path)) return;
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    fprintf(stderr, "vmkmgmt-record: cannot open %s (%s); not recording\n", path, strerror(errno));
    return;
  }
  w.fd = fd;
  w.running = 1;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  int rc = pthread_create(&w.thread, &attr, writer_main, NULL);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    fprintf(stderr, "vmkmgmt-record: cannot start the writer thread (%s); not recording\n", strerror(rc));
    close(fd);
    w.fd = -1;
    w.running = 0;
    return;
  }
  char program[1024];
  size_t plen = program_name(program, sizeof program);
  struct record *r = alloc_record(TRACE_START, 32 + plen);
  if (!r) return;
  struct timespec wall;
  clock_gettime(CLOCK_REALTIME, &wall);
  record_u32(r, TRACE_VERSION);
  record_u32(r, (uint32_t)getpid());
  record_u64(r, (uint64_t)wall.tv_sec * 1000000000u + (uint64_t)wall.tv_nsec);
  record_u64(r, 0);
  record_u32(r, (uint32_t)plen);
  record_put(r, program, plen);
  record_submit(r);
}

int writer_on(void) {
  pthread_once(&w.once, start);
  return __atomic_load_n(&w.running, __ATOMIC_ACQUIRE);
}

/* At exit: what is queued goes to disk (waiting a bounded time), then END with the counts. */
__attribute__((destructor)) static void finish(void) {
  pthread_mutex_lock(&w.lock);
  int running = w.running;
  w.stop = 1;
  pthread_cond_signal(&w.more);
  pthread_mutex_unlock(&w.lock);
  if (!running) return;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += EXIT_WAIT_SECONDS;
  if (pthread_timedjoin_np(w.thread, NULL, &until) != 0) {
    fprintf(stderr, "vmkmgmt-record: the trace's last records did not reach the disk in %d s\n", EXIT_WAIT_SECONDS);
  }
}
