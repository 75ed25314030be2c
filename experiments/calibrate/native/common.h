/*
 * Shared helpers of the nvlab calibration microbenchmarks (experiments/calibrate/native).
 *
 * Output protocol, one record per line on stdout (parsed by experiments/calibrate/parse.ts):
 *   RESULT <name> <value> <unit>      one repetition of one measurement
 *   INFO <key> <value...>             facts about the run (instruction used, counts)
 * Anything else is ignored by the parser. Times come from CLOCK_MONOTONIC.
 */
#ifndef NVLAB_CALIB_COMMON_H
#define NVLAB_CALIB_COMMON_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void result(const char *name, double value, const char *unit) {
  printf("RESULT %s %.3f %s\n", name, value, unit);
  fflush(stdout);
}

static long arg_long(int argc, char **argv, int i, long dflt) {
  return argc > i ? strtol(argv[i], NULL, 10) : dflt;
}

/* Keep the compiler from removing a value or a pointer we computed. */
#define KEEP(x) __asm__ volatile("" : : "r"(x) : "memory")
#endif
