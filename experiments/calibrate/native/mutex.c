/*
 * Contended pthread mutex handoff and futex wake-to-run latency on this host (issue 12 item 2).
 * All mutexes are default (PTHREAD_MUTEX_INITIALIZER) glibc mutexes.
 *
 *   uncontended_acq_ns        lock + tiny critical section + unlock, one thread (median of
 *                             chunks of 1,000), in a process that has started a thread
 *   contended_t<T>_acq_ns     T threads hammer one mutex (critical section: one counter
 *                             increment, and the owner id) for <ms> ms: wall time / acquisitions
 *   contended_t<T>_handoff_ns wall time / handoffs (acquisitions by a thread other than the
 *                             previous owner)
 *   hold<H>_sleep_fraction    thread A holds the mutex for H ns after B starts to lock it;
 *                             fraction of B's acquisitions during which B slept (its voluntary
 *                             context switches grew). The spin window is the largest hold at
 *                             which B mostly did not sleep.
 *   mutex_wake_ns             B asleep in pthread_mutex_lock; A unlocks: time from just before
 *                             A's unlock to B running its next instruction after lock returns
 *   condvar_wake_ns           B asleep in pthread_cond_wait; A signals: signal to B running
 * Usage: mutex <max threads> <ms per contended run> <trials> <repetitions>
 */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter, handoffs, owner = -1;
static atomic_int stop, ready, phase;
static _Atomic uint64_t t_release;

static void spin_ns(uint64_t ns) {
  uint64_t t0 = now_ns();
  while (now_ns() - t0 < ns) {}
}

static long nvcsw(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_nvcsw;
}

static void uncontended_chunk(long n, void *ctx) {
  (void)ctx;
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(&m);
    counter++;
    pthread_mutex_unlock(&m);
  }
}
static double uncontended(long n) { return chunked_ns(uncontended_chunk, NULL, n, 1000); }

static void *hammer(void *arg) {
  long id = (long)arg;
  while (!atomic_load(&ready)) {}
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    pthread_mutex_lock(&m);
    counter++;
    if (owner != id) { handoffs++; owner = id; }
    pthread_mutex_unlock(&m);
  }
  return NULL;
}

static void contended(int threads, long ms) {
  pthread_t t[256];
  counter = 0; handoffs = 0; owner = -1;
  atomic_store(&stop, 0);
  atomic_store(&ready, 0);
  for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, hammer, (void *)i);
  uint64_t t0 = now_ns();
  atomic_store(&ready, 1);
  usleep((useconds_t)(ms * 1000));
  atomic_store(&stop, 1);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  double wall = (double)(now_ns() - t0);
  char name[64];
  snprintf(name, sizeof name, "contended_t%d_acq_ns", threads);
  result(name, wall / (double)(counter ? counter : 1), "ns");
  snprintf(name, sizeof name, "contended_t%d_handoff_ns", threads);
  result(name, wall / (double)(handoffs ? handoffs : 1), "ns");
}

/* One hold trial: A (main) holds m; B (waiter thread) locks it after `phase` becomes 1. */
static uint64_t hold_ns;
static double waiter_wait_ns;
static int waiter_slept;

static void *waiter(void *arg) {
  (void)arg;
  while (atomic_load(&phase) != 1) {}
  long c0 = nvcsw();
  atomic_store(&phase, 2);
  pthread_mutex_lock(&m);
  uint64_t t1 = now_ns();
  long c1 = nvcsw();
  pthread_mutex_unlock(&m);
  waiter_wait_ns = (double)(t1 - atomic_load(&t_release));
  waiter_slept = c1 > c0;
  return NULL;
}

static void hold_trial(uint64_t hold) {
  pthread_t b;
  atomic_store(&phase, 0);
  pthread_create(&b, NULL, waiter, NULL);
  pthread_mutex_lock(&m);
  atomic_store(&phase, 1);
  while (atomic_load(&phase) != 2) {}
  spin_ns(hold);
  atomic_store(&t_release, now_ns());
  pthread_mutex_unlock(&m);
  pthread_join(b, NULL);
}

static int cv_flag;
static double cv_wait_ns;
static void *cv_waiter(void *arg) {
  (void)arg;
  pthread_mutex_lock(&m);
  atomic_store(&phase, 1);
  while (!cv_flag) pthread_cond_wait(&cv, &m);
  uint64_t t1 = now_ns();
  pthread_mutex_unlock(&m);
  cv_wait_ns = (double)(t1 - atomic_load(&t_release));
  return NULL;
}

static void cv_trial(void) {
  pthread_t b;
  cv_flag = 0;
  atomic_store(&phase, 0);
  pthread_create(&b, NULL, cv_waiter, NULL);
  while (atomic_load(&phase) != 1) {}
  usleep(200); /* let B fall asleep in the futex */
  pthread_mutex_lock(&m);
  cv_flag = 1;
  atomic_store(&t_release, now_ns());
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&m);
  pthread_join(b, NULL);
}

static void *noop(void *arg) { return arg; }

int main(int argc, char **argv) {
  int max_threads = (int)arg_long(argc, argv, 1, 4);
  long ms = arg_long(argc, argv, 2, 200);
  int trials = (int)arg_long(argc, argv, 3, 200);
  long reps = arg_long(argc, argv, 4, 5);
  if (max_threads < 2) max_threads = 2;
  if (max_threads > 256) max_threads = 256;
  if (trials > 2000) trials = 2000;
  static const uint64_t holds[] = {0, 250, 500, 1000, 2000, 5000, 20000};
  /* glibc takes a non-atomic fast path while a process has one thread: start and join one
     first, so "uncontended" is the cost every multi-threaded program pays. */
  pthread_t first;
  pthread_create(&first, NULL, noop, NULL);
  pthread_join(first, NULL);
  printf("INFO online_cpus %ld\nINFO max_threads %d\n", sysconf(_SC_NPROCESSORS_ONLN), max_threads);
  static double wake[2000];
  for (long r = 0; r < reps; r++) {
    result("uncontended_acq_ns", uncontended(1000000), "ns");
    for (int t = 2; t <= max_threads; t++) contended(t, ms);
    for (unsigned h = 0; h < sizeof holds / sizeof holds[0]; h++) {
      int slept = 0, woke = 0;
      hold_ns = holds[h];
      for (int i = 0; i < trials; i++) {
        hold_trial(holds[h]);
        slept += waiter_slept;
        if (waiter_slept && holds[h] == holds[sizeof holds / sizeof holds[0] - 1]) wake[woke++] = waiter_wait_ns;
      }
      char name[64];
      snprintf(name, sizeof name, "hold%llu_sleep_fraction", (unsigned long long)holds[h]);
      result(name, (double)slept / trials, "fraction");
      if (woke > 0) {
        qsort(wake, (size_t)woke, sizeof wake[0], cmp_double);
        result("mutex_wake_ns", wake[woke / 2], "ns");
      }
    }
    for (int i = 0; i < trials; i++) { cv_trial(); wake[i] = cv_wait_ns; }
    qsort(wake, (size_t)trials, sizeof wake[0], cmp_double);
    result("condvar_wake_ns", wake[trials / 2], "ns");
  }
  return 0;
}
