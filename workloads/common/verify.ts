/**
 * Helpers for the read-only, uncharged structure walks (`verify`): safe peeks,
 * pointer validity, payload checksums and a report collector.
 *
 * Model: a pointer is valid when it is 0 (null) or lies inside NVRAM with room for the
 * object it points to and is 16-byte aligned (the allocator contract's alignment). A
 * peek that the machine refuses (out of bounds, a word >= 2^53) is reported as an
 * integrity error at that address instead of throwing. Checksums are integer-only
 * (Math.imul mixing of 32-bit halves) and never 0, so an all-zero (never persisted)
 * node does not pass.
 *
 * Error addresses: a bad checksum or malformed node names the node; a dangling,
 * misaligned or cycle-closing pointer names the word that holds it.
 */
import type { Addr, Machine, MemoryReader } from '../../sim/api.ts';
import { NVRAM_BASE } from '../../sim/machine.ts';
import { sortAscending } from '../../sim/search.ts';
import { giveNumTable, takeNumTable } from '../../sim/num-table.ts';
import type { Extent } from '../../allocators/contract.ts';
import type { VerifyReport } from '../contract.ts';

const TWO_32 = 2 ** 32;
export const OBJECT_ALIGN_BYTES = 16;

const SEED1 = 0x9e3779b9 | 0;
const SEED2 = 0x7f4a7c15 | 0;

/** One round of the checksum: the first lane takes the word's low half... */
function mixLo(h1: number, w: number): number {
  const x = Math.imul(h1 ^ (w >>> 0), 0x85ebca6b);
  return (x << 13) | (x >>> 19);
}

/** ...the second its high half and the first lane's new value. */
function mixHi(h2: number, h1: number, w: number): number {
  const x = Math.imul(h2 ^ (Math.floor(w / TWO_32) >>> 0) ^ h1, 0xc2b2ae35);
  return (x << 17) | (x >>> 15);
}

/** The two lanes folded into a 53-bit value, never 0. */
function fold(h1: number, h2: number): number {
  const f = Math.imul(h1 ^ (h2 >>> 16), 0x27d4eb2f);
  const v = (h2 & 0x1fffff) * TWO_32 + (f >>> 0);
  return v === 0 ? 1 : v;
}

export function checksum(words: readonly number[]): number {
  let h1 = SEED1;
  let h2 = SEED2;
  for (const w of words) {
    h1 = mixLo(h1, w);
    h2 = mixHi(h2, h1, w);
  }
  return fold(h1, h2);
}

/** checksum([a, b]) without the array (a node's key and value: every node of every checked state). */
export function checksum2(a: number, b: number): number {
  const h1a = mixLo(SEED1, a);
  const h2a = mixHi(SEED2, h1a, a);
  const h1 = mixLo(h1a, b);
  return fold(h1, mixHi(h2a, h1, b));
}

export function safePeek(reader: MemoryReader, addr: Addr): number | undefined {
  try {
    return reader.peek64(addr);
  } catch {
    return undefined;
  }
}

function hex(a: number): string {
  return `0x${a.toString(16)}`;
}

/**
 * Collects a VerifyReport; `pointer` validates, `visit` detects revisits (visited nodes and
 * keys in typed-array tables taken from a pool and given back by finish). Reachable
 * objects are kept as their addresses (unique: `seen` admits each once and holds its
 * size) and become Extents in finish, sorted as numbers (sortAscending): a structure walk
 * visits every node of every checked state, and comparator sorts of objects were half
 * of a walk's time.
 */
export class Report {
  readonly errors: { addr: Addr; message: string }[] = [];
  private readonly addrs: number[] = [];
  /** Key -> the node it was first found in, and node visited -> its size (pooled tables, returned by finish). */
  private readonly keyNodes = takeNumTable();
  /** keyNodes' keys in the order found (each once). */
  private readonly keyList: number[] = [];
  private readonly seen = takeNumTable();
  private readonly nvramEnd: number;

  constructor(readonly reader: MemoryReader) {
    const layout = (reader as Partial<Machine>).layout;
    this.nvramEnd = layout !== undefined ? layout.nvramBase + layout.nvramSizeBytes : Number.MAX_SAFE_INTEGER;
  }

  error(addr: Addr, message: string): void {
    this.errors.push({ addr, message });
  }

  /** Read a word; on refusal record an error naming `addr` and return undefined. */
  read(addr: Addr, what: string): number | undefined {
    const v = safePeek(this.reader, addr);
    if (v === undefined) this.error(addr, `unreadable ${what} at ${hex(addr)}`);
    return v;
  }

  /** Is `ptr` (held in the word at `holder`) a valid pointer to an object of sizeBytes? Records why not. */
  pointer(holder: Addr, ptr: number, sizeBytes: number): boolean {
    if (ptr < NVRAM_BASE || ptr + sizeBytes > this.nvramEnd) {
      this.error(holder, `dangling pointer ${hex(ptr)} at ${hex(holder)}: outside the NVRAM heap`);
      return false;
    }
    if (ptr % OBJECT_ALIGN_BYTES !== 0) {
      this.error(holder, `misaligned pointer ${hex(ptr)} at ${hex(holder)}: objects are ${OBJECT_ALIGN_BYTES}-byte aligned`);
      return false;
    }
    return true;
  }

  /** First visit of `ptr` (held at `holder`) in this walk? A revisit is a cycle or a shared node. */
  visit(holder: Addr, ptr: number, sizeBytes: number, what: string): boolean {
    if (this.seen.has(ptr)) {
      this.error(holder, `${what}: pointer ${hex(ptr)} at ${hex(holder)} reaches a node already visited (cycle or shared node)`);
      return false;
    }
    this.reach(ptr, sizeBytes);
    return true;
  }

  /** Add an auxiliary reachable object (pending/retired), deduplicated, no cycle check. */
  addAux(ptr: number, sizeBytes: number): boolean {
    if (this.seen.has(ptr)) return false;
    this.reach(ptr, sizeBytes);
    return true;
  }

  /** Record a first visit of the object at `ptr`. */
  private reach(ptr: number, sizeBytes: number): void {
    this.seen.set(ptr, sizeBytes);
    this.addrs.push(ptr);
  }

  /** Record a key found in the node at `node`; a key found twice is an error naming the second node. */
  key(key: number, node: Addr): void {
    const first = this.keyNodes.get(key);
    if (first !== undefined) this.error(node, `duplicate key ${key} in ${hex(node)} (also in ${hex(first)})`);
    else {
      this.keyNodes.set(key, node);
      this.keyList.push(key);
    }
  }

  /** The report (the walk is over: its lists are sorted in place and its tables go back to the pool). */
  finish(): VerifyReport {
    const report = { reachable: this.sortedReachable(), errors: this.errors, keys: sortAscending(this.keyList) };
    giveNumTable(this.keyNodes);
    giveNumTable(this.seen);
    return report;
  }

  /** The reachable objects by address (unique), one Extent each. */
  private sortedReachable(): Extent[] {
    const sorted = sortAscending(this.addrs);
    const out: Extent[] = new Array(sorted.length);
    for (let i = 0; i < sorted.length; i++) out[i] = { addr: sorted[i], sizeBytes: this.seen.get(sorted[i])! };
    return out;
  }
}
