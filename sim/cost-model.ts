/**
 * CostModel: the integer cycle costs of the simulated machine, and its presets.
 *
 * Model: see ../shared/design/nvram-model.md. Every field is an integer (cycles, bytes,
 * counts or a flag); its doc line gives the unit and the source. Clock: 2.2 GHz
 * (Xeon Gold 6230/8260 class), so 1 ns = 2.2 cycles. "(derived)" marks a value
 * computed from the cited measurements rather than quoted.
 *
 * Invariants: a CostModel is frozen; presets are overridden field by field with
 * `makeCostModel(preset, overrides)`, which rejects unknown fields and non-integers.
 */

export interface CostModel {
  /** Preset this model was built from. */
  readonly preset: PresetName;
  /** Core clock in MHz, for cycles -> seconds (Xeon Gold 6230 class, 2.2 GHz). */
  readonly clockMHz: number;
  /** Cache line size in bytes (Intel SDM, CLWB). Fixed at 64 by the simulator. */
  readonly lineSizeBytes: number;
  /** NVM media access unit (XPLine) in bytes (Yang et al., FAST'20). */
  readonly xpLineSizeBytes: number;
  /** 1 = model the per-DIMM XPBuffer write combining (FAST'20; OptaneStudy 09-infer_xpbuffer.csv). */
  readonly xpBufferEnabled: number;
  /** XPBuffer capacity in XPLines (16 KB = 64 XPLines; FAST'20). */
  readonly xpBufferLines: number;
  /** Extra cycles of a partial-XPLine read-modify-write when the XPLine is not in the XPBuffer (derived, FAST'20 fig. 10). */
  readonly xpBufferMissCycles: number;
  /** L1d size in bytes, private per core (AnandTech Skylake-SP review). */
  readonly l1SizeBytes: number;
  /** L1d associativity (ways) (same). */
  readonly l1Ways: number;
  /** Cycles an L1d hit adds to the clock: its throughput share, not its 4-cycle latency (AnandTech Skylake-SP); overlap model: the core issues two loads and a store a cycle and hides L1 latency behind independent work (Intel optimization manual, Skylake), and the instruction itself is paid by Core.instructions (ipcMilli), so a hit is not counted twice; misses are serial. */
  readonly l1HitCycles: number;
  /** Store misses a core can have in flight before it stalls: its L1D fill buffers (Intel Optimization Reference Manual, 2.2, Skylake Server: 10; sim/store-buffer.ts). 0 = a store miss stalls the core for its whole latency. Entries. */
  readonly fillBufferEntries: number;
  /** L2 hardware prefetcher (sim/prefetcher.ts), the streamer: streams tracked per core, one per 4 KiB page (Intel 64 and IA-32 Architectures Optimization Reference Manual, order 248966, "Data Prefetch to the L2 and Last Level Cache": "Detects and maintains up to 32 streams of data accesses"). 0 = streamer off. Streams. */
  readonly prefetchStreams: number;
  /** How far ahead of the requested line the streamer runs (same: "can run up to 20 lines ahead of the load request"). Lines. */
  readonly prefetchDistanceLines: number;
  /** Streamer prefetches per L2 request, at most (same: "may issue two prefetch requests on every L2 lookup"). Prefetches. */
  readonly prefetchesPerTrigger: number;
  /** 1 = the spatial prefetcher: an L2 miss also fetches the other line of its 128 B pair (same: "complete every cache line fetched to the L2 cache with the pair line"; the BIOS's "adjacent cache line prefetch", on by default). Flag (0 or 1). */
  readonly prefetchAdjacentLine: number;
  /** Largest step between two successive L2 requests in a page that the streamer takes as a sequence; a longer jump starts no stream. Assumed: 4 (256 B); the manual states the rule ("triggered after two successive cache misses ... within a threshold value", most effective for strides "close to 64 bytes") but gives no figure for these cores. 0 = any step within the page. Lines. */
  readonly prefetchTriggerStepLines: number;
  /** Prefetches a core keeps in flight at once; more are dropped. 0 = no hardware prefetch at all. Assumed: 32, the commonly given depth of the L2's outstanding-miss queue (superqueue) of a Skylake core; the optimization manual documents the L1D's 10 fill buffers but not this depth, only that the streamer backs off when many requests are outstanding. Lines. */
  readonly prefetchInFlightLines: number;
  /** L1 IP-based stride prefetcher (sim/l1-prefetcher.ts): the largest stride between two load misses of one site that it detects (Intel 64 and IA-32 Architectures Optimization Reference Manual, order 248966, "Data Prefetch to L1 Data Cache": "can detect strides of up to 2 KB"). 0 = prefetcher off. Bytes. */
  readonly l1StridePrefetchMaxBytes: number;
  /** L2 size in bytes, private per core (same). */
  readonly l2SizeBytes: number;
  /** L2 associativity (ways) (same). */
  readonly l2Ways: number;
  /** L2 hit latency in cycles (same). */
  readonly l2HitCycles: number;
  /** Shared LLC size in bytes (Xeon Gold 6230: 27.5 MB). */
  readonly llcSizeBytes: number;
  /** LLC associativity (ways) (same). */
  readonly llcWays: number;
  /** LLC hit latency in cycles (AnandTech: 42-77 seen). */
  readonly llcHitCycles: number;
  /** DRAM read, sequential, cycles (OptaneStudy 02-best_case_latency.csv: 81 ns). */
  readonly dramReadSeqCycles: number;
  /** DRAM read, random, cycles (same: 101 ns). */
  readonly dramReadRandCycles: number;
  /** NVM read, sequential, cycles (same: 169 ns). */
  readonly nvmReadSeqCycles: number;
  /** NVM read, random, cycles (same: 305 ns; Izraelevitz et al. 2019: 305-346 ns). */
  readonly nvmReadRandCycles: number;
  /** Write-back of a dirty NVM line reaching the persistence domain (clwb + fence), cycles (OptaneStudy 02-: 62 ns). */
  readonly nvmWriteBackCycles: number;
  /** Write-back of a dirty DRAM line, cycles (OptaneStudy 02-: 57 ns). */
  readonly dramWriteBackCycles: number;
  /** Each extra clwb pipelined before one fence, cycles (derived from the 4 KB figure of 12-flush_instr_lat.csv: 26 ns). */
  readonly flushPipelineCycles: number;
  /** Issue cost of clwb / clflushopt, cycles (Intel SDM; derived). */
  readonly flushIssueCycles: number;
  /** Extra delay added to every write-back (emulation studies: 330 = 150 ns as Mnemosyne; 0 = none). */
  readonly extraFlushDelayCycles: number;
  /** Issue cost of a non-temporal store opening a 64 B write-combining buffer, cycles (derived: ntstore+sfence 199 (90 ns, OptaneStudy 02-, 12-) = issue + write-back 137). */
  readonly ntstoreIssueCycles: number;
  /** sfence with nothing pending, cycles (derived). */
  readonly sfenceCycles: number;
  /** mfence with nothing pending, cycles (measured ~17.5 ns on Zen 4; ~100 cycles on older parts). */
  readonly mfenceCycles: number;
  /** CAS on a line held by this core, cycles (uops.info LOCK CMPXCHG m64). */
  readonly casCycles: number;
  /** Ownership / line transfer from another core, cycles (core-to-core latency, Skylake-SP: 40-46 ns). */
  readonly coherenceTransferCycles: number;
  /** Per core, how many recently read XPLine-sized blocks (NVM or DRAM) make a read of the same or the next block "sequential" (rule 7; derived). */
  readonly seqWindowLines: number;
  /** 1 = clwb keeps the written-back line cached, clean (Ice Lake and later); 0 = drops it like clflushopt (Cascade Lake; Intel SDM notes clwb may invalidate). Flag (0 or 1). */
  readonly clwbRetainsLine: number;
  /** 1 = caches are in the power-fail domain (eADR): a store is durable when it executes (rule 6). */
  readonly eadr: number;
  /** Lines held on the write-back path after a flush dropped them (rule 10): 256 = the XPBuffer's 16 KB (FAST'20); a DRAM controller's write pending queue holds fewer (derived). Lines. */
  readonly writeBackPathLines: number;
  /** A miss served from the write-back path, cycles (derived: the read skips the media, not the memory controller: about a DRAM random read, OptaneStudy 02-: 101 ns). */
  readonly writeBackPathReadCycles: number;
  /** Instructions per cycle x 1000 of allocator code paths, for Core.instructions (measured: nvlab calibrate, callgrind instructions of libpmemobj alloc+free with PMEM_NO_FLUSH=1 / their measured cycles, 5084 / 1284 on an idle 2-core AMD EPYC VM, experiments/calibrate/fixtures/calibration.json). */
  readonly ipcMilli: number;
  /** How long a waiter on a held mutex keeps trying before it sleeps in the kernel, cycles (glibc's default mutex: a CAS, then futex_wait, which returns at once if the word changed meanwhile, so a short hold is waited out without sleeping; measured on an idle host: nvlab calibrate, a waiter slept in 1.5 % of acquisitions at a 250 ns hold and 99 % at 500 ns, 250 ns x 2.2 cycles/ns; experiments/calibrate/fixtures/calibration.json). */
  readonly mutexSpinCycles: number;
  /** From a mutex release to a sleeping waiter running again (futex wake-to-run), cycles (measured: nvlab calibrate, median 10,220 ns on an idle 2-core AMD EPYC VM, x 2.2 cycles/ns; a VM's wake-up includes the hypervisor's inter-processor interrupt; experiments/calibrate/fixtures/calibration.json). */
  readonly mutexWakeCycles: number;
  /** Extra handoff cycles per other waiter at a release (each waiter re-reads the line; David et al., SOSP'13: lock latency grows with contenders; measured: nvlab calibrate, (contended - uncontended) / (T - 1) = 9.4 ns x 2.2 cycles/ns, idle host), cycles per waiter. */
  readonly mutexHandoffPerWaiterCycles: number;
}

export type PresetName = 'optane-adr' | 'dram' | 'eadr' | 'cxl';
export const PRESET_NAMES: readonly PresetName[] = ['optane-adr', 'dram', 'eadr', 'cxl'];

const OPTANE_ADR: CostModel = {
  preset: 'optane-adr',
  clockMHz: 2200,
  lineSizeBytes: 64,
  xpLineSizeBytes: 256,
  xpBufferEnabled: 1,
  xpBufferLines: 64,
  xpBufferMissCycles: 120,
  l1SizeBytes: 32 * 1024,
  l1Ways: 8,
  l1HitCycles: 1,
  fillBufferEntries: 10,
  prefetchStreams: 32,
  prefetchDistanceLines: 20,
  prefetchesPerTrigger: 2,
  prefetchAdjacentLine: 1,
  prefetchInFlightLines: 32,
  prefetchTriggerStepLines: 4,
  l1StridePrefetchMaxBytes: 2048,
  l2SizeBytes: 1024 * 1024,
  l2Ways: 16,
  l2HitCycles: 13,
  llcSizeBytes: 28160 * 1024,
  llcWays: 11,
  llcHitCycles: 77,
  dramReadSeqCycles: 179,
  dramReadRandCycles: 223,
  nvmReadSeqCycles: 373,
  nvmReadRandCycles: 671,
  nvmWriteBackCycles: 137,
  dramWriteBackCycles: 126,
  flushPipelineCycles: 58,
  flushIssueCycles: 3,
  extraFlushDelayCycles: 0,
  ntstoreIssueCycles: 62,
  sfenceCycles: 5,
  mfenceCycles: 40,
  casCycles: 19,
  coherenceTransferCycles: 95,
  seqWindowLines: 16,
  clwbRetainsLine: 0,
  eadr: 0,
  writeBackPathLines: 256,
  writeBackPathReadCycles: 223,
  ipcMilli: 3958,
  mutexSpinCycles: 550,
  mutexWakeCycles: 22484,
  mutexHandoffPerWaiterCycles: 21,
};

export const PRESETS: Readonly<Record<PresetName, CostModel>> = Object.freeze({
  'optane-adr': Object.freeze(OPTANE_ADR),
  /** NVM = DRAM latencies, real flush/fence costs, no XPBuffer (how Makalu, Atlas, nvm_malloc, PMDK were measured). */
  dram: Object.freeze({
    ...OPTANE_ADR,
    preset: 'dram' as const,
    xpBufferEnabled: 0,
    nvmReadSeqCycles: 179,
    nvmReadRandCycles: 223,
    nvmWriteBackCycles: 126,
  }),
  /** Optane read latencies; durable at the store; flushes optional but charged if issued. */
  eadr: Object.freeze({ ...OPTANE_ADR, preset: 'eadr' as const, eadr: 1 }),
  /** CXL-attached memory: reads ~400 cycles (Pond, ASPLOS'23), write-back ~ read latency, no XPBuffer, ADR-like. */
  cxl: Object.freeze({
    ...OPTANE_ADR,
    preset: 'cxl' as const,
    xpBufferEnabled: 0,
    nvmReadSeqCycles: 400,
    nvmReadRandCycles: 400,
    nvmWriteBackCycles: 400,
  }),
});

export type CostOverrides = Partial<Omit<CostModel, 'preset'>>;

export function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/** A frozen cost model: `preset` with `overrides` applied field by field. */
export function makeCostModel(preset: PresetName = 'optane-adr', overrides: CostOverrides = {}): CostModel {
  const base = PRESETS[preset];
  if (!base) throw new RangeError(`unknown preset "${preset}"; expected one of ${PRESET_NAMES.join(', ')}`);
  for (const [field, value] of Object.entries(overrides)) {
    if (!(field in base) || field === 'preset') {
      throw new RangeError(`unknown cost-model field "${field}"`);
    }
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw new RangeError(`cost-model field "${field}" must be a non-negative integer, got ${String(value)}`);
    }
    if (field === 'ipcMilli' && value === 0) throw new RangeError('cost-model field "ipcMilli" must be at least 1 (instructions per cycle x 1000)');
  }
  return Object.freeze({ ...base, ...overrides });
}

/** Field names of the cost model, for schema validation of overrides. */
export const COST_FIELDS: readonly string[] = Object.keys(OPTANE_ADR).filter((k) => k !== 'preset');
