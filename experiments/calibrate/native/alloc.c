/*
 * Single-thread 64 B alloc+free pairs on one allocator, chosen at build time:
 *   -DALLOC_GLIBC     glibc malloc/free (no extra library)
 *   -DALLOC_JEMALLOC  jemalloc (Debian libjemalloc-dev: -ljemalloc replaces malloc/free;
 *                     the program checks through mallctl that jemalloc really serves malloc)
 *   -DALLOC_PMEMOBJ   libpmemobj (libpmemobj-dev: -lpmemobj): pool file given on the
 *                     command line (on /dev/shm), object id kept in DRAM (a stack PMEMoid),
 *                     pmemobj_alloc / pmemobj_free. The runner sets PMEM_IS_PMEM_FORCE=1,
 *                     and PMEM_NO_FLUSH=1 for the no-flush variant.
 *
 * Usage: alloc <pairs per repetition> <repetitions> [pool file]
 *   prints one "RESULT pair_ns <ns per pair> ns" per repetition (after one warm-up): the
 *   median over chunks of 10,000 pairs (500 for fewer than 100,000 pairs per repetition);
 * Usage: alloc --callgrind <pairs> [pool file]
 *   runs <pairs> pairs and <pairs> calls of an empty wrapper, for callgrind: the inclusive
 *   instruction counts of nv_alloc_one, nv_free_one and nv_empty divided by <pairs> are the
 *   per-call costs (nv_empty is the wrapper's own call overhead, subtracted by the runner).
 */
#include "common.h"
#include <string.h>

#if defined(ALLOC_PMEMOBJ)
#include <libpmemobj.h>
#include <unistd.h>
static PMEMobjpool *pop;
typedef PMEMoid obj_t;
__attribute__((noinline)) void nv_alloc_one(obj_t *o) {
  if (pmemobj_alloc(pop, o, 64, 0, NULL, NULL) != 0) { perror("pmemobj_alloc"); exit(3); }
}
__attribute__((noinline)) void nv_free_one(obj_t *o) { pmemobj_free(o); }
#else
#if defined(ALLOC_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif
typedef void *obj_t;
__attribute__((noinline)) void nv_alloc_one(obj_t *o) {
  *o = malloc(64);
  if (!*o) exit(3);
  KEEP(*o);
}
__attribute__((noinline)) void nv_free_one(obj_t *o) { KEEP(*o); free(*o); }
#endif

__attribute__((noinline)) void nv_empty(obj_t *o) { KEEP(o); }

static void pairs(long n);

static void setup(const char *pool) {
#if defined(ALLOC_PMEMOBJ)
  unlink(pool);
  pop = pmemobj_create(pool, "nvlab-calibrate", 64u << 20, 0600);
  if (!pop) { fprintf(stderr, "pmemobj_create %s: %s\n", pool, pmemobj_errormsg()); exit(2); }
  printf("INFO allocator pmemobj\nINFO pmemobj_header_version %d.%d\n", PMEMOBJ_MAJOR_VERSION, PMEMOBJ_MINOR_VERSION);
  const char *nf = getenv("PMEM_NO_FLUSH");
  printf("INFO pmem_no_flush %s\n", nf ? nf : "unset");
#elif defined(ALLOC_JEMALLOC)
  const char *v = NULL;
  size_t len = sizeof v;
  if (mallctl("version", &v, &len, NULL, 0) != 0) { fprintf(stderr, "jemalloc mallctl failed\n"); exit(2); }
  uint64_t before = 0, after = 0;
  size_t l8 = sizeof before;
  mallctl("thread.allocated", &before, &l8, NULL, 0);
  void *p = malloc(64);
  KEEP(p);
  mallctl("thread.allocated", &after, &l8, NULL, 0);
  free(p);
  if (after <= before) { fprintf(stderr, "malloc is not served by jemalloc\n"); exit(2); }
  printf("INFO allocator jemalloc\nINFO jemalloc_version %s\n", v);
#else
  (void)pool;
  printf("INFO allocator glibc\n");
#endif
}

static void teardown(const char *pool) {
#if defined(ALLOC_PMEMOBJ)
  pmemobj_close(pop);
  unlink(pool);
#else
  (void)pool;
#endif
}

static void pairs_chunk(long n, void *ctx) { (void)ctx; pairs(n); }

static void pairs(long n) {
  obj_t o;
  memset(&o, 0, sizeof o);
  for (long i = 0; i < n; i++) {
    nv_alloc_one(&o);
    nv_free_one(&o);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--callgrind") == 0) {
    long n = arg_long(argc, argv, 2, 10000);
    const char *pool = argc > 3 ? argv[3] : "";
    setup(pool);
    pairs(n);
    obj_t o;
    for (long i = 0; i < n; i++) nv_empty(&o);
    printf("INFO calls %ld\n", n);
    teardown(pool);
    return 0;
  }
  long n = arg_long(argc, argv, 1, 200000);
  long reps = arg_long(argc, argv, 2, 7);
  const char *pool = argc > 3 ? argv[3] : "";
  setup(pool);
  pairs(n / 10 + 1); /* warm-up */
  for (long r = 0; r < reps; r++) {
    result("pair_ns", chunked_ns(pairs_chunk, NULL, n, n >= 100000 ? 10000 : 500), "ns");
  }
  printf("INFO pairs %ld\n", n);
  teardown(pool);
  return 0;
}
