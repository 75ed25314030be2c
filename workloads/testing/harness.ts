/**
 * TEST SUPPORT ONLY (used by workloads/*.test.ts): run a workload on small machines,
 * the allocators to loop over, and a counting wrapper that records every malloc /
 * free the workload issues.
 *
 * workloads/ may not import experiments/ or the allocator registry (the architecture
 * test), so the test files pass `executeRun` and `ALLOCATORS` in: `createHarness`.
 *
 * The counting wrapper forwards every call unchanged (so the simulated costs are the
 * allocator's own) and records, in JS, the size of each allocation and which core
 * allocated and which freed each block, so tests can check the streams' definitions
 * (allocation counts, size distributions, cross-thread frees).
 */
import type { Addr, Core, Machine } from '../../sim/api.ts';
import { makeCostModel, type CostModel } from '../../sim/cost-model.ts';
import type { Allocator, AllocatorFactory, Idiom, InitFn } from '../../allocators/contract.ts';
import type { OpRef, ThreadStreams, Workload, WorkloadContext } from '../contract.ts';
import { bumpFactory } from './bump-allocator.ts';

export const TEST_NVRAM_BYTES = 16 * 1024 * 1024;
export const TEST_DRAM_BYTES = 32 * 1024 * 1024;

export interface Tally {
  mallocs: number;
  frees: number;
  crossThreadFrees: number;
  sizes: Map<number, number>;
}

export function newTally(): Tally {
  return { mallocs: 0, frees: 0, crossThreadFrees: 0, sizes: new Map() };
}

class CountingAllocator implements Allocator {
  private readonly owner = new Map<Addr, number>();
  constructor(
    private readonly inner: Allocator,
    private readonly tally: Tally,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  get rootCount(): number {
    return this.inner.rootCount;
  }
  private noteMalloc(core: Core, p: Addr, sizeBytes: number): void {
    if (p === 0) return;
    this.tally.mallocs++;
    this.tally.sizes.set(sizeBytes, (this.tally.sizes.get(sizeBytes) ?? 0) + 1);
    this.owner.set(p, core.id);
  }
  private noteFree(core: Core, p: Addr): void {
    if (p === 0) return;
    this.tally.frees++;
    if (this.owner.get(p) !== core.id) this.tally.crossThreadFrees++;
    this.owner.delete(p);
  }
  format(core: Core): void {
    this.inner.format(core);
  }
  open(core: Core) {
    return this.inner.open(core);
  }
  close(core: Core): void {
    this.inner.close(core);
  }
  malloc(core: Core, sizeBytes: number): Addr {
    const p = this.inner.malloc(core, sizeBytes);
    this.noteMalloc(core, p, sizeBytes);
    return p;
  }
  free(core: Core, addr: Addr): void {
    this.noteFree(core, addr);
    this.inner.free(core, addr);
  }
  mallocTo(core: Core, sizeBytes: number, destAddr: Addr, init?: InitFn): Addr {
    const p = this.inner.mallocTo(core, sizeBytes, destAddr, init);
    this.noteMalloc(core, p, sizeBytes);
    return p;
  }
  freeFrom(core: Core, destAddr: Addr): void {
    this.noteFree(core, core.machine.peek64(destAddr));
    this.inner.freeFrom(core, destAddr);
  }
  rootAddress(index: number): Addr {
    return this.inner.rootAddress(index);
  }
  setRoot(core: Core, index: number, value: Addr): void {
    this.inner.setRoot(core, index, value);
  }
  getRoot(core: Core, index: number): Addr {
    return this.inner.getRoot(core, index);
  }
  walkHeap(reader: Parameters<Allocator['walkHeap']>[0]) {
    return this.inner.walkHeap(reader);
  }
  checkConsistency(reader: Parameters<Allocator['checkConsistency']>[0]) {
    return this.inner.checkConsistency(reader);
  }
}

export function counting(factory: AllocatorFactory, tally: Tally): AllocatorFactory {
  return { ...factory, create: (machine: Machine) => new CountingAllocator(factory.create(machine), tally) };
}

/** What the harness passes to experiments/execute.ts executeRun (structurally its RunInput). */
export interface RunRequest {
  readonly allocator: AllocatorFactory;
  readonly workload: Workload<any>;
  readonly params: object;
  readonly idiom: Idiom;
  readonly threads: number;
  readonly seed: number | string;
  readonly cost: CostModel;
  readonly nvramSizeBytes: number;
  readonly dramSizeBytes: number;
  readonly trace: boolean;
  readonly stopAfterOps?: number;
}

/** The parts of executeRun's RunOutput the tests read. */
export interface RunResult {
  readonly machine: Machine;
  readonly allocator: Allocator;
  readonly context: WorkloadContext;
  readonly streams: ThreadStreams;
  readonly history: OpRef[];
  readonly opsTotal: number;
  readonly cycles: number;
}

export interface HarnessDeps {
  executeRun(input: RunRequest): RunResult;
  readonly allocators: readonly AllocatorFactory[];
}

export interface TestRun {
  factory: AllocatorFactory;
  workload: Workload<any>;
  params: object;
  threads: number;
  idiom?: Idiom;
  seed?: number | string;
  stopAfterOps?: number;
  nvramSizeBytes?: number;
  trace?: boolean;
}

export interface Harness {
  /** The fixture plus every registered allocator that is not a broken canary (optionally not volatile). */
  allocatorsUnderTest(opts?: { crashSafeOnly?: boolean }): AllocatorFactory[];
  run(r: TestRun): RunResult;
}

export function createHarness(deps: HarnessDeps): Harness {
  return {
    allocatorsUnderTest(opts = {}) {
      return [bumpFactory, ...deps.allocators.filter((f) => !f.broken && !(opts.crashSafeOnly && f.volatile))];
    },
    run(r) {
      const nvram = r.nvramSizeBytes ?? TEST_NVRAM_BYTES;
      return deps.executeRun({
        allocator: r.factory,
        workload: r.workload,
        params: r.workload.validate(r.params, r.threads, nvram),
        idiom: r.idiom ?? 'malloc-then-link',
        threads: r.threads,
        seed: r.seed ?? 42,
        cost: makeCostModel('optane-adr'),
        nvramSizeBytes: nvram,
        dramSizeBytes: TEST_DRAM_BYTES,
        trace: r.trace ?? false,
        stopAfterOps: r.stopAfterOps,
      });
    },
  };
}
