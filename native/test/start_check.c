/* SPDX-License-Identifier: Apache-2.0 */
/*
 * start_check.c -- built as the bridge is (glibc_compat.h, bridge/glibc_start.c, --wrap): its
 * constructor must run exactly once, whichever glibc starts it (test/bridge_test.ts runs it).
 */
#include <stdio.h>

static int ran;

__attribute__((constructor)) static void constructor(void) {
  ran++;
}

int main(void) {
  printf("constructors ran: %d\n", ran);
  return ran == 1 ? 0 : 1;
}
