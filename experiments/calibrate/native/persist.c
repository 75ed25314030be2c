/*
 * Cache-line persistence costs on this host (x86-64), per repetition:
 *   store_wb_fence_ns    store + <flush> + sfence on one line, <flush> = clwb if cpuid says
 *                        so, else clflushopt, else clflush ("INFO flush_instruction" names it)
 *   store_clflushopt_sfence_ns, store_clflush_sfence_ns   the same with those instructions
 *   flush4096_per_line_ns  store + <flush> on each of 4096 cached lines, then one sfence, / 4096
 *   sfence_ns, mfence_ns   a fence with nothing pending
 *   cas_ns               lock cmpxchg on a line this core holds
 *   chase_cached_ns / chase_after_wb_ns / chase_evicted_ns   one dependent load of a line of a
 *                        256-line random chain: cached; right after store+<flush>+sfence of
 *                        every line; after clflush+mfence of every line. If after_wb is near
 *                        cached, <flush> kept the line (retention), if near evicted it dropped it.
 *   core_mhz             core clock measured with a chain of dependent adds (1 cycle each)
 *   tsc_mhz              rdtsc ticks per microsecond (for the record)
 * Loops are timed in chunks of 1,000 iterations (median chunk per repetition), the 4096-line
 * figure as the median of 31 passes, the chains as the median of 101 chases.
 * Usage: persist <iterations> <repetitions>
 */
#include "common.h"
#include <cpuid.h>
#include <string.h>
#include <x86intrin.h>

#define LINE 64
static int has_clwb, has_clflushopt;

static inline void do_clwb(volatile char *p) { __asm__ volatile("clwb %0" : "+m"(*p)); }
static inline void do_clflushopt(volatile char *p) { __asm__ volatile("clflushopt %0" : "+m"(*p)); }
static inline void do_clflush(volatile char *p) { __asm__ volatile("clflush %0" : "+m"(*p)); }
static inline void sfence(void) { __asm__ volatile("sfence" ::: "memory"); }
static inline void mfence(void) { __asm__ volatile("mfence" ::: "memory"); }

enum flush { F_CLWB, F_CLFLUSHOPT, F_CLFLUSH };
static inline void flush(enum flush f, volatile char *p) {
  if (f == F_CLWB) do_clwb(p);
  else if (f == F_CLFLUSHOPT) do_clflushopt(p);
  else do_clflush(p);
}
static const char *flush_name(enum flush f) { return f == F_CLWB ? "clwb" : f == F_CLFLUSHOPT ? "clflushopt" : "clflush"; }

struct sff { enum flush f; volatile char *line; };
static void sff_chunk(long n, void *ctx) {
  struct sff *c = ctx;
  for (long i = 0; i < n; i++) {
    c->line[0] = (char)i;
    flush(c->f, c->line);
    sfence();
  }
}
static double store_flush_fence(enum flush f, volatile char *line, long n) {
  struct sff c = {f, line};
  return chunked_ns(sff_chunk, &c, n, 1000);
}

static double flush_many(enum flush f, volatile char *buf, int lines) {
  for (int i = 0; i < lines; i++) buf[i * LINE] = 1; /* cached and dirty */
  sfence();
  uint64_t t0 = now_ns();
  for (int i = 0; i < lines; i++) {
    buf[i * LINE] = (char)i;
    flush(f, buf + i * LINE);
  }
  sfence();
  return (double)(now_ns() - t0) / (double)lines;
}

static void sfence_chunk(long n, void *ctx) { (void)ctx; for (long i = 0; i < n; i++) sfence(); }
static void mfence_chunk(long n, void *ctx) { (void)ctx; for (long i = 0; i < n; i++) mfence(); }
static double flush_many_median(enum flush f, volatile char *buf, int lines) {
  double v[31];
  for (int i = 0; i < 31; i++) v[i] = flush_many(f, buf, lines);
  qsort(v, 31, sizeof v[0], cmp_double);
  return v[15];
}

static double fence_loop(int m, long n) { return chunked_ns(m ? mfence_chunk : sfence_chunk, NULL, n, 1000); }

static void cas_chunk(long n, void *ctx) {
  static volatile uint64_t word __attribute__((aligned(64)));
  (void)ctx;
  for (long i = 0; i < n; i++) __sync_val_compare_and_swap(&word, (uint64_t)i, (uint64_t)i + 1);
}
static double cas_loop(long n) { return chunked_ns(cas_chunk, NULL, n, 1000); }

#define CHAIN 256
/* A random cyclic chain through CHAIN lines; each line's first word points to the next. */
static void build_chain(char *buf) {
  int order[CHAIN];
  for (int i = 0; i < CHAIN; i++) order[i] = i;
  uint32_t s = 12345;
  for (int i = CHAIN - 1; i > 0; i--) {
    s = s * 1103515245u + 12345u;
    int j = (int)((s >> 8) % (uint32_t)(i + 1));
    int t = order[i]; order[i] = order[j]; order[j] = t;
  }
  for (int i = 0; i < CHAIN; i++) *(char **)(buf + order[i] * LINE) = buf + order[(i + 1) % CHAIN] * LINE;
}

static double chase(char *buf) {
  char *p = buf;
  uint64_t t0 = now_ns();
  for (int i = 0; i < CHAIN; i++) p = *(char *volatile *)p;
  uint64_t t1 = now_ns();
  KEEP(p);
  return (double)(t1 - t0) / CHAIN;
}

/* mode 0: cached; 1: store + flush + sfence each line; 2: clflush + mfence each line. */
static double chase_after(enum flush f, char *buf, int mode) {
  for (int i = 0; i < CHAIN; i++) KEEP(*(char *volatile *)(buf + i * LINE)); /* bring all lines in */
  for (int i = 0; i < CHAIN; i++) {
    volatile char *l = buf + i * LINE;
    if (mode == 1) { *(char *volatile *)l = *(char **)l; flush(f, l); }
    if (mode == 2) do_clflush(l);
  }
  if (mode == 1) sfence();
  if (mode == 2) mfence();
  return chase(buf);
}

static double median_chase(enum flush f, char *buf, int mode) {
  double v[101];
  for (int i = 0; i < 101; i++) v[i] = chase_after(f, buf, mode);
  qsort(v, 101, sizeof v[0], cmp_double);
  return v[50];
}

/* Core clock: a chain of dependent 1-cycle adds (latency 1 on every x86-64 core since P6). */
#define ADD10 "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" \
              "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t" "add $1, %0\n\t"
static double core_mhz(long n) {
  /* fastest of n/1000 chunks of 100,000 adds: a preempted chunk only looks slower */
  uint64_t x = 0, best = UINT64_MAX;
  for (long c = 0; c < n / 1000 + 1; c++) {
    uint64_t t0 = now_ns();
    for (int i = 0; i < 1000; i++) __asm__ volatile(ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 ADD10 : "+r"(x));
    uint64_t dt = now_ns() - t0;
    if (dt < best) best = dt;
  }
  KEEP(x);
  return 1000.0 * 100.0 * 1000.0 / (double)best;
}

static double tsc_mhz(void) {
  uint64_t t0 = now_ns(), c0 = __rdtsc();
  while (now_ns() - t0 < 20000000ull) {}
  uint64_t t1 = now_ns(), c1 = __rdtsc();
  return (double)(c1 - c0) * 1000.0 / (double)(t1 - t0);
}

int main(int argc, char **argv) {
  long n = arg_long(argc, argv, 1, 200000);
  long reps = arg_long(argc, argv, 2, 7);
  unsigned a, b, c, d;
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    has_clwb = (b >> 24) & 1;
    has_clflushopt = (b >> 23) & 1;
  }
  enum flush f = has_clwb ? F_CLWB : has_clflushopt ? F_CLFLUSHOPT : F_CLFLUSH;
  printf("INFO cpuid_clwb %d\nINFO cpuid_clflushopt %d\nINFO flush_instruction %s\n", has_clwb, has_clflushopt, flush_name(f));
  char *buf = aligned_alloc(4096, 4096 * LINE);
  memset(buf, 0, 4096 * LINE);
  char *chain = aligned_alloc(4096, CHAIN * LINE);
  build_chain(chain);
  for (long r = 0; r < reps; r++) {
    result("store_wb_fence_ns", store_flush_fence(f, buf, n), "ns");
    if (has_clflushopt) result("store_clflushopt_sfence_ns", store_flush_fence(F_CLFLUSHOPT, buf, n), "ns");
    result("store_clflush_sfence_ns", store_flush_fence(F_CLFLUSH, buf, n), "ns");
    result("flush4096_per_line_ns", flush_many_median(f, buf, 4096), "ns");
    result("sfence_ns", fence_loop(0, n), "ns");
    result("mfence_ns", fence_loop(1, n), "ns");
    result("cas_ns", cas_loop(n), "ns");
    result("chase_cached_ns", median_chase(f, chain, 0), "ns");
    result("chase_after_wb_ns", median_chase(f, chain, 1), "ns");
    result("chase_evicted_ns", median_chase(f, chain, 2), "ns");
    result("core_mhz", core_mhz(n), "MHz");
    result("tsc_mhz", tsc_mhz(), "MHz");
  }
  return 0;
}
