/**
 * Instruction path lengths of the real allocators behind the simulated ones (issue 13,
 * item 1): how many instructions each allocator path executes, with a source per count.
 *
 * Model: a path length is an instruction count per unit of work (`per`: one call, one
 * object moved, one run created, one live object marked...). It is data only; charging
 * it (instructions / IPC as a cost-model field) is done by the allocators' code, not
 * here. Every count is a positive integer: measured values are rounded to the nearest
 * integer (and to 1 when the measurement is below 1) and the unrounded figure is in the
 * source text.
 *
 * Method (all counts are Ir from valgrind 3.19.0 callgrind on x86-64, Debian 12, gcc
 * 12.2; callgrind counts are deterministic, so rerunning the same binary gives the same
 * numbers, spread 0):
 *   - 'callgrind': the real library (Debian package linked statically, so internal
 *     function names are visible; or the released source built outside nvlab) run by a
 *     small C/C++ harness. Each phase is isolated with
 *     `valgrind --tool=callgrind --zero-before=<phase> --dump-after=<phase>`, read with
 *     `callgrind_annotate --inclusive=yes --tree=caller`, and an inclusive count is
 *     divided by the phase's known number of operations (or by the phase's call count of
 *     the function). Where a part is a loop inside a function, line-level annotation
 *     (`callgrind_annotate <out> <source file>`) separates it.
 *   - 'source-count': counted from the released source (statements or objdump of a
 *     gcc -O2 build). Not used so far: every allocator built and ran.
 *   Harness workload unless stated: 64 B requests, one thread, a warm-up of 1,000
 *   alloc/free pairs, then 100,000 alloc/free pairs (fast paths) or 200,000 (1,000,000
 *   for jemalloc) allocations kept live and then freed (refill, flush, slow paths).
 *   Recovery: a crash image with N live 64 B objects (N = 50,000 and 200,000); per
 *   object and per block costs are slopes between the two N.
 *   The harnesses live outside the repository (they build third-party code).
 *
 * Standard path names (every allocator declares all of them, a count or a reason why
 * the path does not exist in that design):
 *   mallocFast         allocation served without refilling (per call)
 *   freeFast           free without flushing to a shared pool (per call)
 *   refillPerObject    moving one object from a shared pool/new block into a cache
 *   slowPath           obtaining a new block/slab/run/superblock (per block)
 *   logAppend          appending to the allocator's log (unit in `per`)
 *   recoveryPerObject  recovery work per live object
 *   recoveryPerBlock   recovery work per block/run/chunk scanned
 * Allocator-specific extras carry their own names (e.g. redoCommitLogged, activate).
 */

/** One measured or counted path length. */
export interface PathLength {
  /** Instructions executed per unit of work (`per`); a positive integer. */
  readonly instructions: number;
  /** The unit of work the count is for, e.g. 'call', 'object', 'slab (64 objects)'. */
  readonly per: string;
  readonly method: 'callgrind' | 'source-count';
  /** How to rerun or recount it: library version or repository commit, file:function, phase and division. */
  readonly source: string;
}

/** A standard path the modelled design does not have. */
export interface NotApplicable {
  readonly notApplicable: string;
}

export type PathEntry = PathLength | NotApplicable;

export const STANDARD_PATHS = ['mallocFast', 'freeFast', 'refillPerObject', 'slowPath', 'logAppend', 'recoveryPerObject', 'recoveryPerBlock'] as const;

export type StandardPath = (typeof STANDARD_PATHS)[number];

/** The path lengths of one real allocator. */
export interface PathLengths {
  /** The real allocator measured: library and version, or repository and commit, and how it was built. */
  readonly reference: string;
  readonly paths: Readonly<Record<StandardPath, PathEntry>> & Readonly<Record<string, PathEntry>>;
}

export function isMeasured(e: PathEntry): e is PathLength {
  return 'instructions' in e;
}

/** Instructions of a path, or undefined when the allocator does not declare it or it does not apply. */
export function instructionsOf(p: PathLengths, path: string): number | undefined {
  const e = p.paths[path];
  return e !== undefined && isMeasured(e) ? e.instructions : undefined;
}

const GLIBC_HARNESS = 'callgrind on a 64 B malloc/free harness (gcc -O2, dynamically linked libc), phase of 100,000 pairs after 1,000 warm-up pairs (tcache hits)';

/**
 * glibc malloc as a reference line (not a simulated allocator). Only the two fast paths
 * are given; the others do not apply to a reference.
 *
 * | path       | instr | method    | source                                             |
 * |------------|-------|-----------|----------------------------------------------------|
 * | mallocFast |    41 | callgrind | libc6 2.36-9+deb12u14, malloc 4,100,000 / 100,000  |
 * | freeFast   |    88 | callgrind | libc6 2.36-9+deb12u14, free 8,800,000 / 100,000    |
 */
export const GLIBC_REFERENCE: PathLengths = {
  reference: 'glibc malloc, Debian libc6 2.36-9+deb12u14 (x86-64)',
  paths: {
    mallocFast: { instructions: 41, per: 'call', method: 'callgrind', source: `${GLIBC_HARNESS}: malloc inclusive 4,100,000 Ir / 100,000 calls` },
    freeFast: { instructions: 88, per: 'call', method: 'callgrind', source: `${GLIBC_HARNESS}: free inclusive 8,800,000 Ir / 100,000 calls` },
    refillPerObject: { notApplicable: 'reference line: only the tcache fast paths are measured' },
    slowPath: { notApplicable: 'reference line: only the tcache fast paths are measured' },
    logAppend: { notApplicable: 'volatile allocator: no log' },
    recoveryPerObject: { notApplicable: 'volatile allocator: no recovery' },
    recoveryPerBlock: { notApplicable: 'volatile allocator: no recovery' },
  },
};

/**
 * Instructions per path name for charging (Core.instructions): the measured count, or 0
 * for a path the design does not have. A plain object, read on every allocator call; a
 * misspelt name reads undefined, which Core.instructions rejects (non-negative integer).
 */
export function pathInstructions(p: PathLengths): Readonly<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [name, e] of Object.entries(p.paths)) out[name] = isMeasured(e) ? e.instructions : 0;
  return Object.freeze(out);
}
