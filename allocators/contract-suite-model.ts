/**
 * Contract suite: model-based random testing (fast-check) against a reference map.
 *
 * Model: a generated array of operations (malloc, free, mallocTo, freeFrom), each
 * issued from a chosen core, so that frees cross cores. Destinations for mallocTo are
 * word slots of an NVRAM block allocated for the purpose, root slots (rootAddress) and
 * DRAM words. After every operation the harness checks the new block (alignment,
 * bounds, no overlap with any live block) and the contents of every live block and
 * slot; every WALK_EVERY operations and at the end, the heap walk against the
 * reference map and checkConsistency.
 *
 * Invariants: fast-check runs with a fixed seed, so a run is deterministic; a failure
 * reports the shrunk operation sequence and the first check that failed.
 */
import fc from 'fast-check';
import type { Addr } from '../sim/api.ts';
import type { AllocatorFactory } from './contract.ts';
import { Harness, fail, type SuiteConfig } from './contract-suite-harness.ts';

const SLOTS_PER_KIND = 32;
const WALK_EVERY = 16;

type DestKind = 'nvram' | 'root' | 'dram';
export type ModelOp =
  | { readonly t: 'malloc'; readonly core: number; readonly sizeBytes: number }
  | { readonly t: 'free'; readonly core: number; readonly pick: number }
  | { readonly t: 'mallocTo'; readonly core: number; readonly sizeBytes: number; readonly dest: DestKind; readonly pick: number }
  | { readonly t: 'freeFrom'; readonly core: number; readonly pick: number };

/** Mostly small sizes, some medium, a few large (up to 256 KiB). */
const sizeArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 256 }) },
  { weight: 4, arbitrary: fc.integer({ min: 257, max: 16_384 }) },
  { weight: 1, arbitrary: fc.integer({ min: 16_385, max: 262_144 }) },
);

export function opArb(cores: number): fc.Arbitrary<ModelOp> {
  const core = fc.nat(cores - 1);
  const pick = fc.nat(1000);
  return fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant('malloc' as const), core, sizeBytes: sizeArb }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('free' as const), core, pick }) },
    { weight: 3, arbitrary: fc.record({ t: fc.constant('mallocTo' as const), core, sizeBytes: sizeArb, dest: fc.constantFrom<DestKind>('nvram', 'root', 'dram'), pick }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('freeFrom' as const), core, pick }) },
  );
}

class ModelRun {
  readonly h: Harness;
  readonly dests: Record<DestKind, Addr[]>;

  constructor(factory: AllocatorFactory, cfg: SuiteConfig, cores: number) {
    this.h = Harness.fresh(factory, cfg, cores);
    const holder = this.h.mallocUntagged(0, 8 * SLOTS_PER_KIND);
    const dram = this.h.machine.reserveDram(8 * SLOTS_PER_KIND);
    const slots = (base: (i: number) => Addr): Addr[] => Array.from({ length: SLOTS_PER_KIND }, (_, i) => base(i));
    this.dests = {
      nvram: slots((i) => holder + 8 * i),
      root: slots((i) => this.h.alloc.rootAddress(i)),
      dram: slots((i) => dram + 8 * i),
    };
    for (const list of Object.values(this.dests)) for (const d of list) this.h.addSlot(d);
  }

  apply(op: ModelOp): void {
    const h = this.h;
    if (op.t === 'malloc') h.malloc(op.core, op.sizeBytes);
    else if (op.t === 'free') {
      const plain = [...h.live.values()].filter((b) => b.dest === undefined && b.tag >= 0);
      if (plain.length > 0) h.free(op.core, plain[op.pick % plain.length].addr);
    } else if (op.t === 'mallocTo') {
      const list = this.dests[op.dest];
      for (let k = 0; k < list.length; k++) {
        const d = list[(op.pick + k) % list.length];
        if (h.slots.get(d) === 0) {
          h.mallocTo(op.core, op.sizeBytes, d);
          break;
        }
      }
    } else {
      const published = [...h.live.values()].filter((b) => b.dest !== undefined);
      if (published.length > 0) h.freeFrom(op.core, published[op.pick % published.length].dest as Addr);
    }
  }

  run(ops: readonly ModelOp[]): void {
    ops.forEach((op, i) => {
      this.apply(op);
      this.h.verifyContents(`after op ${i} (${op.t})`);
      if (i % WALK_EVERY === WALK_EVERY - 1) this.h.verifyHeap(`after op ${i} (${op.t})`);
    });
    this.h.verifyHeap('after the last op');
    // Drain: free everything left, alternating cores, then check again.
    let c = 0;
    for (const b of [...this.h.live.values()]) {
      if (b.dest !== undefined) this.h.freeFrom(c++, b.dest);
      else if (b.tag >= 0) this.h.free(c++, b.addr);
    }
    this.h.verifyHeap('after freeing every block');
  }
}

/** Throws with the failing check's message first, then the shrunk operation sequence. */
export function checkModel(factory: AllocatorFactory, cfg: SuiteConfig, cores: number): void {
  const property = fc.property(fc.array(opArb(cores), { minLength: 1, maxLength: cfg.maxOps }), (ops) => {
    new ModelRun(factory, cfg, cores).run(ops);
  });
  const d = fc.check(property, { seed: cfg.seed, numRuns: cfg.numRuns });
  if (!d.failed) return;
  const cause = d.errorInstance instanceof Error ? `${d.errorInstance.name === 'Error' ? '' : `${d.errorInstance.name}: `}${d.errorInstance.message}` : String(d.errorInstance);
  fail(`${cause}\n  in run ${d.numRuns} of ${cfg.numRuns} (seed ${cfg.seed}, path "${d.counterexamplePath}", shrunk ${d.numShrinks} times); operations: ${fc.stringify(d.counterexample?.[0])}`);
}
