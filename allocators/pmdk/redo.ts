/**
 * PMDK-style checksummed redo logs (one per lane), after libpmemobj ulog.c / memops.c.
 *
 * Model (pmem/pmdk 1.12.1, commit 786098a02): an operation collects redo entries
 * {address, op, value}. `commitEntries` follows palloc_exec_actions + operation_process
 * (palloc.c:526-580, memops.c:776-812): drain (sfence) so the object header and the
 * caller's init are durable; a single entry is applied in place without the log
 * (ulog_entry_apply with persist: 1 flush, 1 fence); otherwise ulog_store writes the log
 * with non-temporal stores (pmemops_memcpy with PMEMOBJ_F_MEM_WC, ulog.c:288-360): the
 * 64 B header {checksum, count, capacity} and the entries, zero-padded to whole lines
 * (at least 8 B past the last entry, ulog.c:314-317), then a drain (fence); the entries
 * are applied with one flush per entry, not per distinct line (ulog_entry_apply,
 * ulog.c:526-565; ulog_process drains once at the end, ulog.c:786-800: fence); and the
 * log header is clobbered with a 64 B non-temporal copy of an empty header
 * (ulog_clobber, ulog.c:694-707: 1 line, fence). Measured on libpmemobj 1.12.1 (gdb
 * breakpoint counts, 1,000 pmemobj_alloc/free pairs, PMEMoid in the pool): 4 fences,
 * 3 flushes (3 entries: PMEMoid.pool_uuid_lo, PMEMoid.off, the bitmap word) and 48 B of
 * entries (128 B written) per call; here a destination is one 8 B word, so 2 entries and
 * 32 B (the same 128 B written). Recovery replays a lane whose checksum matches its
 * contents and discards the rest.
 *
 * Entry encoding: word 0 = NVRAM offset * 4 + op, word 1 = value. SET writes an
 * aligned 8 B word; OR / AND modify an aligned 4 B bitmap word. All three are
 * idempotent, so a replay interrupted by a crash can be replayed again.
 *
 * Invariants: the checksum of a live log is never 0; at most LOG_CAPACITY entries.
 */
import type { Core } from '../../sim/api.ts';
import { siteId } from '../../sim/api.ts';
import { invariant } from '../../sim/errors.ts';
import { LOG_CAPACITY, LOG_HEADER_BYTES, laneAddr, type Geometry } from './layout.ts';

export const enum RedoOp {
  SET = 1,
  OR = 2,
  AND = 3,
}

export interface RedoEntry {
  readonly addr: number;
  readonly op: RedoOp;
  readonly value: number;
}

const S_LOG = siteId('pmdk:redo-log');
const S_APPLY = siteId('pmdk:redo-apply');
const S_CLOBBER = siteId('pmdk:redo-clobber');
const S_RECOVER = siteId('pmdk:redo-recover');
const CHECKSUM_PRIME = 67108859; // 2^26 - 5
const TWO_26 = 2 ** 26;

/** A Fletcher-style checksum of words (integers < 2^53); never 0. */
export function checksumWords(words: readonly number[]): number {
  let a = 1;
  let b = 0;
  for (const w of words) {
    const lo = w % TWO_26;
    const hi = Math.floor(w / TWO_26);
    a = (a + lo + hi * 3) % CHECKSUM_PRIME;
    b = (b + a) % CHECKSUM_PRIME;
  }
  const c = a * TWO_26 + b;
  return c === 0 ? 1 : c;
}

export interface CommitOptions {
  /** Broken canary: apply the entries before the log is durable (one fence for both). */
  readonly brokenEarlyApply?: boolean;
}

/** Publish entries atomically through `lane`'s redo log (or in place when there is one). */
export function commitEntries(core: Core, g: Geometry, lane: number, entries: readonly RedoEntry[], opts: CommitOptions = {}): void {
  if (entries.length === 0 || entries.length > LOG_CAPACITY) invariant(false, `redo: ${entries.length} entries`);
  core.sfence(); // pmemops_drain: the non-temporal header and the caller's init are durable
  if (entries.length === 1) {
    applyEntries(core, entries);
    core.sfence();
    return;
  }
  if (opts.brokenEarlyApply === true) {
    applyEntries(core, entries);
    writeLog(core, g, lane, entries);
    core.sfence();
  } else {
    writeLog(core, g, lane, entries);
    core.sfence();
    applyEntries(core, entries);
    core.sfence();
  }
  clobber(core, laneAddr(g, lane));
}

/** Bytes of the log's data part ulog_store copies: entries + 8, line-aligned, at most the capacity. */
export function logDataBytes(entryCount: number): number {
  return Math.min(Math.ceil((entryCount * 16 + 8) / 64) * 64, LOG_CAPACITY * 16);
}

/**
 * ulog_store: header line then the data lines, written whole with non-temporal stores
 * (no flush); the caller fences. The checksum is computed by the instructions charged
 * for the commit (ulog_checksum runs inside operation_process), so nothing extra here.
 */
function writeLog(core: Core, g: Geometry, lane: number, entries: readonly RedoEntry[]): void {
  const prev = core.setSite(S_LOG);
  const log = laneAddr(g, lane);
  const words: number[] = [entries.length, LOG_CAPACITY];
  const data: number[] = [];
  for (const e of entries) {
    const w0 = (e.addr - g.base) * 4 + e.op;
    data.push(w0, e.value);
    words.push(w0, e.value);
  }
  const header = [checksumWords(words), entries.length, LOG_CAPACITY];
  for (let off = 0; off < LOG_HEADER_BYTES; off += 8) core.ntstore64(log + off, header[off / 8] ?? 0);
  const dataBytes = logDataBytes(entries.length);
  for (let off = 0; off < dataBytes; off += 8) core.ntstore64(log + LOG_HEADER_BYTES + off, data[off / 8] ?? 0);
  core.setSite(prev);
}

/** Apply entries in place, one clwb per entry as ulog_entry_apply flushes each (no fence). */
export function applyEntries(core: Core, entries: readonly RedoEntry[]): void {
  const prev = core.setSite(S_APPLY);
  for (const e of entries) {
    if (e.op === RedoOp.SET) core.storeAtomic64(e.addr, e.value);
    else {
      const old = core.load(e.addr, 4);
      core.store(e.addr, 4, e.op === RedoOp.OR ? (old | e.value) >>> 0 : (old & e.value) >>> 0);
    }
    core.clwb(e.addr);
  }
  core.setSite(prev);
}

/** ulog_clobber: a 64 B non-temporal copy of an empty header, then a drain. */
function clobber(core: Core, log: number): void {
  const prev = core.setSite(S_CLOBBER);
  for (let off = 0; off < LOG_HEADER_BYTES; off += 8) core.ntstore64(log + off, 0);
  core.sfence();
  core.setSite(prev);
}

/** Replay (valid checksum) or discard one lane's log. Returns the entries replayed. */
export function recoverLane(core: Core, g: Geometry, lane: number): number {
  const log = laneAddr(g, lane);
  const checksum = core.load64(log);
  if (checksum === 0) return 0;
  const prev = core.setSite(S_RECOVER);
  const count = core.load64(log + 8);
  const capacity = core.load64(log + 16);
  let replayed = 0;
  if (count >= 1 && count <= LOG_CAPACITY && capacity === LOG_CAPACITY) {
    const words: number[] = [count, capacity];
    const entries: RedoEntry[] = [];
    for (let i = 0; i < count; i++) {
      const w0 = core.load64(log + LOG_HEADER_BYTES + i * 16);
      const value = core.load64(log + LOG_HEADER_BYTES + i * 16 + 8);
      words.push(w0, value);
      entries.push({ addr: g.base + Math.floor(w0 / 4), op: (w0 % 4) as RedoOp, value });
    }
    core.compute(2 * words.length);
    if (checksumWords(words) === checksum && entries.every((e) => validEntry(g, e))) {
      applyEntries(core, entries);
      core.sfence();
      replayed = count;
    }
  }
  clobber(core, log);
  core.setSite(prev);
  return replayed;
}

function validEntry(g: Geometry, e: RedoEntry): boolean {
  if (e.op !== RedoOp.SET && e.op !== RedoOp.OR && e.op !== RedoOp.AND) return false;
  const align = e.op === RedoOp.SET ? 8 : 4;
  return e.addr >= g.base && e.addr + align <= g.base + g.nvramSizeBytes && e.addr % align === 0;
}
