/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32.h -- CRC-32 (IEEE, as util/crc32.ts and the demo drivers compute it), for the C test
 * programs that check what a kernel read from their buffers.
 */
#ifndef VMKMGMT_TEST_CRC32_H
#define VMKMGMT_TEST_CRC32_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xffffffffu;
}

#endif
