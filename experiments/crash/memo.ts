/**
 * Per-job memos of check outcomes, keyed by memory content (speed only; check.ts).
 *
 * Model: recovering an image and checking the result is a deterministic function of
 * memory content: a fresh machine over the image (DRAM zero), a fresh allocator, and
 * oracles that read memory only (cycle counts aside, and those are never memoized).
 * Two memos per job:
 *   nested     nested-image content hash -> what recovering it again and checking
 *              (1)-(2) gave (null = passed, else what it threw);
 *   recovered  content of NVRAM and DRAM right after a recovery -> what the
 *              state-independent oracles gave on it: structure (1)-(2) with the leak
 *              for (3), and the probe (2'), each filled when first evaluated. The
 *              durability oracle (expectations differ per crash point) and the choice
 *              of nested points (the recovery trace differs) are always evaluated per
 *              state.
 * Many distinct crash images recover to the same memory (recovery rewrites the lines
 * two states differ in, e.g. mark bits and index words), so this saves most of the
 * repeated oracle and probe work without skipping any state: every state's outcome is
 * what checking it afresh gives (crash.test.ts compares rows with the memos off).
 *
 * Keys: NVRAM after recovery = the image's hash plus, for each line recovery stored to
 * (its persistency trace lists every NVRAM store), H(line now) - H(line in the image):
 * O(lines stored). DRAM = the same line hash over the non-zero lines of the pages the
 * machine wrote since its reset.
 * 53-bit keys, as for deduplicating crash states (collision odds ~ n^2 / 2^54).
 *
 * Invariants: memos are per JobContext (one job's allocator, workload, params and
 * machine sizes) and cleared when they reach their size cap.
 */
import type { Machine, NvramImage, PersistTrace } from '../../sim/api.ts';
import { type ImageHash, addHash, hashKey, hashLineWords, imageLineHash, subHash } from '../../sim/persistency/hash.ts';
import { PAGE_BYTES } from '../../sim/persistency/image.ts';
import { isStoreKind } from '../../sim/persistency/replay.ts';
import type { SimMachine } from '../../sim/machine.ts';
import type { ExtentIndex } from './intervals.ts';
import type { JobContext } from './job.ts';

/** Set enabled to false to check every state and nested image afresh (tests compare both). */
export const checkMemo = { enabled: true, nestedHits: 0, recoveredHits: 0 };

/** A thrown value, or undefined while not evaluated yet. */
export type Thrown = { readonly thrown: unknown };

/** Allocated bytes reachable from nothing, and the first such extent's address. */
export interface Leak {
  readonly bytes: number;
  readonly first: number;
}

/** Membership in the keys a structure walk found. */
export interface KeyLookup {
  has(key: number): boolean;
}

/** What oracles (1)-(2) leave for the later ones: keys found, reachable objects, leak. */
export interface Structure {
  readonly keys: KeyLookup | undefined;
  readonly reach: ExtentIndex;
  readonly leak: Leak;
}

export interface RecoveredOutcome {
  /** Oracles (1)-(2) (with the leak for (3)), or what they threw. */
  structure?: Structure | Thrown;
  /** The probe (2'): null = passed, else what it threw. */
  probe?: Thrown | null;
}

interface JobMemo {
  readonly nested: Map<number, unknown>;
  readonly recovered: Map<string, RecoveredOutcome>;
}

const MEMO_MAX = 1 << 14;
const memos = new WeakMap<JobContext, JobMemo>();

function memoOf(ctx: JobContext): JobMemo {
  let m = memos.get(ctx);
  if (m === undefined) memos.set(ctx, (m = { nested: new Map(), recovered: new Map() }));
  if (m.nested.size >= MEMO_MAX) m.nested.clear();
  if (m.recovered.size >= MEMO_MAX) m.recovered.clear();
  return m;
}

export function nestedMemoOf(ctx: JobContext): Map<number, unknown> | undefined {
  return checkMemo.enabled ? memoOf(ctx).nested : undefined;
}

/** The memo entry for the memory `machine` holds after recovering `image` (created empty on first sight). */
export function recoveredOutcome(ctx: JobContext, machine: SimMachine, image: NvramImage, imageHash: ImageHash, trace: PersistTrace): RecoveredOutcome | undefined {
  if (!checkMemo.enabled) return undefined;
  const dram = dramHash(machine);
  if (dram === undefined) return undefined;
  const key = `${hashKey(nvramAfter(machine, image, imageHash, trace))}:${hashKey(dram)}`;
  const m = memoOf(ctx).recovered;
  let e = m.get(key);
  if (e === undefined) m.set(key, (e = {}));
  else checkMemo.recoveredHits++;
  return e;
}

/** nvramAfter's words of a line as recovery left it. */
const lineNow = new Uint32Array(16);
const tmp: ImageHash = { a: 0, b: 0 };
/** nvramAfter's set of lines stored to (reused: cleared per call). */
const storedLines = new Set<number>();

/**
 * Hash of the DRAM content (same line hash as images), over the pages this machine owns
 * (written since its reset; unowned DRAM reads as zero) below the reservation bump
 * (reserveDram(0, 1) reserves nothing and returns the bump); undefined when the machine
 * owns a page beyond it (then the state is checked without the memo).
 */
function dramHash(machine: SimMachine): ImageHash | undefined {
  const h: ImageHash = { a: 0, b: 0 };
  const dram = machine.dram;
  const endBytes = machine.reserveDram(0, 1) - machine.layout.dramBase;
  let owned = 0;
  for (let off = 0; off < endBytes; off += PAGE_BYTES) {
    if (!dram.ownsPage(off)) continue;
    owned++;
    const u32 = dram.readPageWords(off);
    const firstLine = off >>> 6;
    for (let l = 0; l < 64; l++) {
      let any = 0;
      for (let w = l * 16; w < l * 16 + 16; w++) any |= u32[w];
      if (any === 0) continue;
      hashLineWords(firstLine + l, u32, l * 16, tmp);
      addHash(h, tmp);
    }
  }
  // A page written outside every reservation would escape the key: no memo then.
  return owned === dram.ownedPageCount() ? h : undefined;
}

/** Hash of the NVRAM now: the image's hash with every line stored to by the trace re-hashed. */
function nvramAfter(machine: Machine, image: NvramImage, imageHash: ImageHash, trace: PersistTrace): ImageHash {
  const h: ImageHash = { a: imageHash.a, b: imageHash.b };
  const lines = storedLines;
  lines.clear();
  for (let i = 0; i < trace.length; i++) if (isStoreKind(trace.kind(i))) lines.add(trace.arg(i) >>> 6);
  const base = machine.layout.nvramBase;
  for (const line of lines) {
    imageLineHash(image, line, tmp);
    subHash(h, tmp);
    for (let w = 0; w < 16; w++) lineNow[w] = machine.peek(base + line * 64 + 4 * w, 4);
    hashLineWords(line, lineNow, 0, tmp);
    addHash(h, tmp);
  }
  return h;
}
