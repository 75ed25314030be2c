/*
 * Shared helpers of the nvlab calibration microbenchmarks (experiments/calibrate/native).
 *
 * Output protocol, one record per line on stdout (parsed by experiments/calibrate/parse.ts):
 *   RESULT <name> <value> <unit>      one repetition of one measurement
 *   INFO <key> <value...>             facts about the run (instruction used, counts)
 * Anything else is ignored by the parser. Times come from CLOCK_MONOTONIC; a repetition of a
 * loop is the median of timed chunks (chunked_ns).
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

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/*
 * One repetition of a timed loop: `total` iterations run as chunks of `chunk`, each timed;
 * the value is the median chunk's ns per iteration, so a chunk hit by preemption on a
 * loaded machine does not move it.
 */
typedef void (*chunk_fn)(long iterations, void *ctx);
static double chunked_ns(chunk_fn f, void *ctx, long total, long chunk) {
  long k = total / chunk;
  if (k < 1) k = 1;
  double *v = malloc((size_t)k * sizeof *v);
  for (long i = 0; i < k; i++) {
    uint64_t t0 = now_ns();
    f(chunk, ctx);
    v[i] = (double)(now_ns() - t0) / (double)chunk;
  }
  qsort(v, (size_t)k, sizeof *v, cmp_double);
  double med = v[k / 2];
  free(v);
  return med;
}

/* Keep the compiler from removing a value or a pointer we computed. */
#define KEEP(x) __asm__ volatile("" : : "r"(x) : "memory")
#endif
