/* SPDX-License-Identifier: Apache-2.0 */
/*
 * glibc_compat.h -- what the bridge and the recorder (the two binaries that go onto ESXi hosts) ask
 * of glibc, pinned to the oldest symbol versions that provide it, so that a build on a current
 * workstation runs in ESXi's user world, whose glibc is older (bridge/INSTALL.md: 2.17 on ESXi 6.7
 * and 7.0). Included before everything else (-include) in those two builds only: the library and
 * the test programs run here, and the sanitizer builds must reach their runtimes' interceptors.
 *
 * Why pinning works both ways: glibc keeps every old version of a symbol it ever exported, so the
 * pinned binary runs here (the tests run it); and an older glibc defines each of these versions,
 * in libc.so.6 or — before glibc 2.34 moved them into libc — in libdl.so.2 and libpthread.so.0,
 * which the Makefile keeps in DT_NEEDED for that reason (on glibc 2.34 and later they are empty).
 * The check: `make glibc-check` (test/bridge_test.ts) fails on any version newer than GLIBC_MAX.
 *
 * No system header is included here: this comes before the sources' own feature macros
 * (_GNU_SOURCE), which a header included first would lock out. `stat` is not pinned but avoided
 * (bridge/main.c): it is a symbol only since glibc 2.33, and its older form (__xstat) needs
 * <sys/stat.h>.
 *
 * What it gives up: a symbol added to these programs later that glibc has since re-versioned
 * (the check names it) must be pinned here too.
 */
#ifndef VMKMGMT_GLIBC_COMPAT_H
#define VMKMGMT_GLIBC_COMPAT_H
#if defined(__x86_64__)
/* libdl's, in libc.so.6 since 2.34 (GLIBC_2.34); GLIBC_2.2.5 everywhere before. */
__asm__(".symver dlopen,dlopen@GLIBC_2.2.5");
#ifndef VMKMGMT_INTERPOSES_DLSYM /* (the recorder defines dlsym: a pin would version its own) */
__asm__(".symver dlsym,dlsym@GLIBC_2.2.5");
#endif
__asm__(".symver dlvsym,dlvsym@GLIBC_2.2.5");
__asm__(".symver dlerror,dlerror@GLIBC_2.2.5");
__asm__(".symver dladdr,dladdr@GLIBC_2.2.5");
__asm__(".symver dlclose,dlclose@GLIBC_2.2.5");
/* libpthread's, likewise. */
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_join,pthread_join@GLIBC_2.2.5");
__asm__(".symver pthread_once,pthread_once@GLIBC_2.2.5");
__asm__(".symver pthread_timedjoin_np,pthread_timedjoin_np@GLIBC_2.3.3");
/* The older memcpy also copies overlapping bytes as memmove would; these programs copy none. */
__asm__(".symver memcpy,memcpy@GLIBC_2.2.5");

#endif

#endif
