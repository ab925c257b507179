/* SPDX-License-Identifier: Apache-2.0 */
/*
 * glibc_start.c -- the bridge's start, pinned to glibc's oldest __libc_start_main (glibc_compat.h
 * says why). The C runtime's _start (Scrt1.o, from the glibc the bridge is built with) calls
 * __libc_start_main, which a current glibc binds to GLIBC_2.34; the Makefile links with
 * --wrap=__libc_start_main, so that call lands here and goes on to __libc_start_main@GLIBC_2.2.5,
 * which every x86_64 glibc has.
 *
 * A current Scrt1.o passes no init function (its glibc runs the program's constructors itself); an
 * older glibc runs only the init function it is given. So one is given: it runs what the older
 * glibc's __libc_csu_init did — _init, then the program's .init_array — and a current glibc, handed
 * an init function, runs that instead of its own (never both).
 */
#include <stddef.h>

typedef int (*main_fn)(int, char **, char **);
typedef void (*init_fn)(int, char **, char **);

int vmkmgmt_libc_start_main(main_fn main, int argc, char **argv, init_fn init, void (*fini)(void),
                            void (*rtld_fini)(void), void *stack_end);
__asm__(".symver vmkmgmt_libc_start_main,__libc_start_main@GLIBC_2.2.5");

/* From the linker (the executable's own .init_array) and crti.o. */
extern init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern init_fn __init_array_end[] __attribute__((visibility("hidden")));
extern void _init(void);

static void run_constructors(int argc, char **argv, char **envp) {
  _init();
  for (init_fn *f = __init_array_start; f < __init_array_end; f++) (*f)(argc, argv, envp);
}

int __wrap___libc_start_main(main_fn main, int argc, char **argv, init_fn init, void (*fini)(void),
                             void (*rtld_fini)(void), void *stack_end);

int __wrap___libc_start_main(main_fn main, int argc, char **argv, init_fn init, void (*fini)(void),
                             void (*rtld_fini)(void), void *stack_end) {
  return vmkmgmt_libc_start_main(main, argc, argv, init ? init : run_constructors, fini, rtld_fini, stack_end);
}
