/* wire.h -- frame constants and little-endian helpers of PROTOCOL.md (internal to the library). */
#ifndef VMKMGMT_WIRE_H
#define VMKMGMT_WIRE_H

#include <stdint.h>
#include <string.h>

#define WIRE_MAGIC 0x4B4D4D56u
#define WIRE_VERSION 1
#define WIRE_HEADER_SIZE 16
#define WIRE_MAX_PAYLOAD (64u * 1024u * 1024u + 4096u)
#define WIRE_HELLO_SIZE 72

enum {
  WIRE_HELLO = 1,
  WIRE_HELLO_REPLY = 2,
  WIRE_INVOKE = 3,
  WIRE_INVOKE_REPLY = 4,
  WIRE_GET_INSTANCES = 5,
  WIRE_INSTANCES = 6,
  WIRE_EVENT = 7,
  WIRE_EVENT_ACK = 8,
  WIRE_CONTROL = 9,
  WIRE_CONTROL_REPLY = 10,
  WIRE_ERROR = 12,
};

static inline void wire_put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wire_put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t wire_get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static inline uint64_t wire_get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static inline void wire_put_header(uint8_t *h, uint16_t type, uint32_t id, uint32_t len) {
  wire_put_u32(h, WIRE_MAGIC);
  h[4] = WIRE_VERSION;
  h[5] = 0;
  h[6] = (uint8_t)type;
  h[7] = (uint8_t)(type >> 8);
  wire_put_u32(h + 8, id);
  wire_put_u32(h + 12, len);
}

/* 0 when the header is well formed; the library then trusts nothing else in it. */
static inline int wire_get_header(const uint8_t *h, uint16_t *type, uint32_t *id, uint32_t *len) {
  if (wire_get_u32(h) != WIRE_MAGIC || h[4] != WIRE_VERSION || h[5] != 0) return -1;
  *type = (uint16_t)(h[6] | (h[7] << 8));
  *id = wire_get_u32(h + 8);
  *len = wire_get_u32(h + 12);
  return *len > WIRE_MAX_PAYLOAD ? -1 : 0;
}

#endif
