/**
 * Transient allocator: the uncharged heap walk and consistency check (DRAM metadata).
 *
 * Model: walk the page tiling from page 0 up to the frontier by run heads (free runs,
 * slabs, large blocks); the pages from the frontier on are one never-used free extent.
 * In a slab, a region is allocated iff it is in the shadow set of handed-out objects
 * (host-side, see transient.ts); every other region is free (in the slab bitmap or in
 * some thread cache). The consistency check verifies the invariants of pages.ts,
 * slabs.ts and tcache.ts: exact tiling, each arena's free runs coalesced and filed in
 * the right bin of that arena, bin bitmaps, slab states and free counts, each arena
 * bin's non-full list (only slabs it owns), cache bins (each entry a free region of the
 * right class, no duplicates, within capacity), region conservation and released locks.
 *
 * Invariants: read-only; uses MemoryReader peeks and the shadow set only.
 */
import type { Addr, MemoryReader } from '../../sim/api.ts';
import type { ConsistencyReport, Extent, HeapWalk } from '../contract.ts';
import {
  BIN_HEAD, BIN_LOCK, CB_CAPACITY, CB_COUNT, CB_ITEMS, CLASS_COUNT, EXT_BITMAP, EXT_HEADS, EXT_LOCK, GLOBAL_FRONTIER, GLOBAL_LOCK,
  KIND_FREE, KIND_LARGE_HEAD, KIND_LARGE_TAIL, KIND_SLAB, MAX_SLOTS, PAGE_BYTES, PR_BITMAP, PR_NEXT, PR_NFREE, PR_PREV, pageState,
  RUN_BINS, SIZE_CLASSES, arenaAddr, binAddr, cacheBinAddr, pageAddr, pageRecord, runBinOf, stateArena, stateClass, stateKind,
  stateValue, type TransientLayout,
} from './layout.ts';

type Shadow = ReadonlySet<Addr>;

const hex = (a: number): string => `0x${a.toString(16)}`;

interface Run {
  readonly page: number;
  readonly kind: number;
  readonly pages: number;
  readonly sizeClass: number;
  readonly arena: number;
}

function frontier(r: MemoryReader, l: TransientLayout): number {
  return r.peek64(l.global + GLOBAL_FRONTIER);
}

/** The tiling of the used heap (below the frontier) by runs; stops (and reports) at the first unreadable head. */
function tiling(r: MemoryReader, l: TransientLayout, errors: string[]): Run[] {
  const runs: Run[] = [];
  const end = frontier(r, l);
  if (end > l.heapPages) {
    errors.push(`frontier ${end} is past the heap's ${l.heapPages} pages`);
    return runs;
  }
  for (let page = 0; page < end; ) {
    const s = r.peek64(pageState(l, page));
    const kind = stateKind(s);
    const sizeClass = stateClass(s);
    const pages = kind === KIND_SLAB ? (SIZE_CLASSES[sizeClass]?.slabPages ?? 0) : stateValue(s);
    const okHead = (kind === KIND_FREE || kind === KIND_LARGE_HEAD || (kind === KIND_SLAB && stateValue(s) === 0)) && pages >= 1;
    if (!okHead || page + pages > end || stateArena(s) >= l.arenaCount) {
      errors.push(`page ${page} (${hex(pageAddr(l, page))}): state ${s} is not a valid run head`);
      return runs;
    }
    runs.push({ page, kind, pages, sizeClass, arena: stateArena(s) });
    page += pages;
  }
  return runs;
}

export function walkTransient(r: MemoryReader, l: TransientLayout, shadow: Shadow): HeapWalk {
  const allocated: Extent[] = [];
  const free: Extent[] = [];
  const end = Math.min(frontier(r, l), l.heapPages);
  for (const run of tiling(r, l, [])) {
    const addr = pageAddr(l, run.page);
    if (run.kind === KIND_FREE) free.push({ addr, sizeBytes: run.pages * PAGE_BYTES });
    else if (run.kind === KIND_LARGE_HEAD) allocated.push({ addr, sizeBytes: run.pages * PAGE_BYTES });
    else {
      const c = SIZE_CLASSES[run.sizeClass];
      for (let i = 0; i < c.slots; i++) {
        const slot = addr + i * c.sizeBytes;
        (shadow.has(slot) ? allocated : free).push({ addr: slot, sizeBytes: c.sizeBytes });
      }
    }
  }
  if (end < l.heapPages) free.push({ addr: pageAddr(l, end), sizeBytes: (l.heapPages - end) * PAGE_BYTES });
  return { allocated, free };
}

export function checkTransient(r: MemoryReader, l: TransientLayout, shadow: Shadow): ConsistencyReport {
  const errors: string[] = [];
  const runs = tiling(r, l, errors);
  const cached = checkThreadCaches(r, l, shadow, errors);
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i];
    if (run.kind === KIND_FREE) checkFreeRun(r, l, run, runs[i + 1], errors);
    else if (run.kind === KIND_LARGE_HEAD) checkLarge(r, l, run, errors);
    else checkSlab(r, l, run, cached.get(run.page) ?? 0, shadow, errors);
  }
  checkShadow(r, l, shadow, errors);
  checkRunBins(r, l, runs, errors);
  checkSlabLists(r, l, runs, errors);
  checkLocks(r, l, errors);
  return { ok: errors.length === 0, errors };
}

function checkLocks(r: MemoryReader, l: TransientLayout, errors: string[]): void {
  if (r.peek64(l.global + GLOBAL_LOCK) !== 0) errors.push(`frontier lock ${hex(l.global)} is held`);
  for (let a = 0; a < l.arenaCount; a++) {
    if (r.peek64(arenaAddr(l, a) + EXT_LOCK) !== 0) errors.push(`extents lock of arena ${a} is held`);
    for (let c = 0; c < CLASS_COUNT; c++) if (r.peek64(binAddr(l, a, c) + BIN_LOCK) !== 0) errors.push(`bin lock of arena ${a} class ${c} is held`);
  }
}

/** Every shadow entry is a region of a live slab of the heap (checked region by region in checkSlab). */
function checkShadow(r: MemoryReader, l: TransientLayout, shadow: Shadow, errors: string[]): void {
  for (const addr of shadow) {
    const page = Math.floor((addr - l.heapBase) / PAGE_BYTES);
    const s = page >= 0 && page < l.heapPages ? r.peek64(pageState(l, page)) : 0;
    if (stateKind(s) !== KIND_SLAB) errors.push(`handed-out object ${hex(addr)} is not in a slab`);
  }
}

function checkFreeRun(r: MemoryReader, l: TransientLayout, run: Run, next: Run | undefined, errors: string[]): void {
  const tail = r.peek64(pageState(l, run.page + run.pages - 1));
  if (stateKind(tail) !== KIND_FREE || stateValue(tail) !== run.pages) errors.push(`free run at page ${run.page}: tail state ${tail} does not repeat its length ${run.pages}`);
  if (stateArena(tail) !== run.arena) errors.push(`free run at page ${run.page}: tail owner ${stateArena(tail)} differs from head owner ${run.arena}`);
  if (next?.kind === KIND_FREE && next.arena === run.arena) errors.push(`free runs at pages ${run.page} and ${next.page} of arena ${run.arena} are adjacent (not coalesced)`);
}

function checkLarge(r: MemoryReader, l: TransientLayout, run: Run, errors: string[]): void {
  if (run.pages === 1) return;
  const tail = r.peek64(pageState(l, run.page + run.pages - 1));
  if (stateKind(tail) !== KIND_LARGE_TAIL || stateValue(tail) !== run.pages) errors.push(`large block ${hex(pageAddr(l, run.page))}: bad tail state ${tail}`);
}

function checkSlab(r: MemoryReader, l: TransientLayout, run: Run, inCaches: number, shadow: Shadow, errors: string[]): void {
  const c = SIZE_CLASSES[run.sizeClass];
  const rec = pageRecord(l, run.page);
  const at = `slab ${hex(pageAddr(l, run.page))} (${c.sizeBytes} B)`;
  for (let i = 1; i < run.pages; i++) {
    const s = r.peek64(pageState(l, run.page + i));
    if (stateKind(s) !== KIND_SLAB || stateClass(s) !== run.sizeClass || stateArena(s) !== run.arena || stateValue(s) !== i) errors.push(`${at}: page ${i} has state ${s}`);
  }
  let inSlab = 0;
  let handed = 0;
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const free = ((r.peek(rec + PR_BITMAP + 4 * (slot >>> 5), 4) >>> (slot & 31)) & 1) === 1;
    if (slot >= c.slots) {
      if (free) errors.push(`${at}: bitmap bit ${slot} set beyond ${c.slots} slots`);
      continue;
    }
    const addr = pageAddr(l, run.page) + slot * c.sizeBytes;
    const out = shadow.has(addr);
    if (free && out) errors.push(`${at}: slot ${hex(addr)} is both free in the slab and handed out`);
    inSlab += free ? 1 : 0;
    handed += out ? 1 : 0;
  }
  const nfree = r.peek64(rec + PR_NFREE);
  if (nfree !== inSlab) errors.push(`${at}: free count ${nfree} but ${inSlab} bitmap bits`);
  if (inSlab + handed + inCaches !== c.slots) errors.push(`${at}: ${inSlab} free + ${handed} handed out + ${inCaches} cached != ${c.slots} slots`);
}

/** Check every cache bin of every core; returns slab head page -> number of cached regions. */
function checkThreadCaches(r: MemoryReader, l: TransientLayout, shadow: Shadow, errors: string[]): Map<number, number> {
  const perSlab = new Map<number, number>();
  const seen = new Set<number>();
  for (let core = 0; core < l.cores; core++) {
    for (let c = 0; c < CLASS_COUNT; c++) {
      const cb = cacheBinAddr(l, core, c);
      const count = r.peek64(cb + CB_COUNT);
      const capacity = r.peek64(cb + CB_CAPACITY);
      if (capacity !== SIZE_CLASSES[c].tcacheCapacity) errors.push(`cache bin core ${core} class ${c}: capacity ${capacity}, expected ${SIZE_CLASSES[c].tcacheCapacity}`);
      if (count > SIZE_CLASSES[c].tcacheCapacity) errors.push(`cache bin core ${core} class ${c}: count ${count} over capacity ${SIZE_CLASSES[c].tcacheCapacity}`);
      for (let k = 0; k < Math.min(count, SIZE_CLASSES[c].tcacheCapacity); k++) {
        const addr = r.peek64(cb + CB_ITEMS + 8 * k);
        const head = cachedSlotHead(r, l, addr, c);
        const at = `cache bin core ${core} class ${c} entry ${k} ${hex(addr)}`;
        if (head < 0) errors.push(`${at}: not a region of a ${SIZE_CLASSES[c].sizeBytes} B slab`);
        else if (seen.has(addr)) errors.push(`${at}: cached twice`);
        else if (shadow.has(addr)) errors.push(`${at}: also handed out`);
        else {
          seen.add(addr);
          perSlab.set(head, (perSlab.get(head) ?? 0) + 1);
        }
      }
    }
  }
  return perSlab;
}

function cachedSlotHead(r: MemoryReader, l: TransientLayout, addr: Addr, sizeClass: number): number {
  if (!Number.isSafeInteger(addr) || addr < l.heapBase || addr >= pageAddr(l, Math.min(frontier(r, l), l.heapPages))) return -1;
  const page = Math.floor((addr - l.heapBase) / PAGE_BYTES);
  const s = r.peek64(pageState(l, page));
  if (stateKind(s) !== KIND_SLAB || stateClass(s) !== sizeClass) return -1;
  const head = page - stateValue(s);
  const offset = addr - pageAddr(l, head);
  const c = SIZE_CLASSES[sizeClass];
  if (offset % c.sizeBytes !== 0 || offset / c.sizeBytes >= c.slots) return -1;
  const slot = offset / c.sizeBytes;
  const inSlab = ((r.peek(pageRecord(l, head) + PR_BITMAP + 4 * (slot >>> 5), 4) >>> (slot & 31)) & 1) === 1;
  return inSlab ? -1 : head;
}

/** Walk a doubly linked list of page records; returns the pages, reporting broken links. */
function walkList(r: MemoryReader, l: TransientLayout, first: number, what: string, errors: string[]): number[] {
  const pages: number[] = [];
  let prev = 0;
  for (let link = first; link !== 0; link = r.peek64(pageRecord(l, link - 1) + PR_NEXT)) {
    if (link - 1 >= l.heapPages || pages.length > l.heapPages) {
      errors.push(`${what}: bad link ${link}`);
      break;
    }
    if (r.peek64(pageRecord(l, link - 1) + PR_PREV) !== prev) errors.push(`${what}: page ${link - 1} has a wrong back link`);
    pages.push(link - 1);
    prev = link;
  }
  return pages;
}

function checkRunBins(r: MemoryReader, l: TransientLayout, runs: Run[], errors: string[]): void {
  const filed = new Set<number>();
  for (let a = 0; a < l.arenaCount; a++) {
    const ext = arenaAddr(l, a);
    for (let bin = 0; bin < RUN_BINS; bin++) {
      const pages = walkList(r, l, r.peek64(ext + EXT_HEADS + 8 * bin), `arena ${a} free-run bin ${bin}`, errors);
      const bit = (r.peek(ext + EXT_BITMAP + 4 * (bin >>> 5), 4) >>> (bin & 31)) & 1;
      if ((bit === 1) !== pages.length > 0) errors.push(`arena ${a} free-run bin ${bin}: bitmap bit ${bit} but ${pages.length} runs`);
      for (const p of pages) {
        const s = r.peek64(pageState(l, p));
        if (stateKind(s) !== KIND_FREE || stateArena(s) !== a || runBinOf(stateValue(s)) !== bin) errors.push(`arena ${a} free-run bin ${bin}: page ${p} (state ${s}) does not belong here`);
        filed.add(p);
      }
    }
  }
  for (const run of runs) if (run.kind === KIND_FREE && !filed.has(run.page)) errors.push(`free run at page ${run.page} is in no bin`);
}

function checkSlabLists(r: MemoryReader, l: TransientLayout, runs: Run[], errors: string[]): void {
  const listed = new Set<number>();
  for (let a = 0; a < l.arenaCount; a++) {
    for (let c = 0; c < CLASS_COUNT; c++) {
      for (const p of walkList(r, l, r.peek64(binAddr(l, a, c) + BIN_HEAD), `arena ${a} bin ${c} slab list`, errors)) {
        const s = r.peek64(pageState(l, p));
        if (stateKind(s) !== KIND_SLAB || stateClass(s) !== c || stateArena(s) !== a || stateValue(s) !== 0) errors.push(`arena ${a} bin ${c} slab list: page ${p} is not a slab head of this arena and class`);
        listed.add(p);
      }
    }
  }
  for (const run of runs) {
    if (run.kind !== KIND_SLAB) continue;
    const hasFree = r.peek64(pageRecord(l, run.page) + PR_NFREE) > 0;
    if (hasFree !== listed.has(run.page)) errors.push(`slab at page ${run.page}: ${hasFree ? 'has free regions but is not' : 'is full but is'} in its bin's list`);
  }
}

/** What one arena bin holds (for tests and reports): its non-full slabs and their free regions. */
export function binSummary(r: MemoryReader, l: TransientLayout, arena: number, sizeClass: number): { readonly slabs: number; readonly freeRegions: number } {
  const pages = walkList(r, l, r.peek64(binAddr(l, arena, sizeClass) + BIN_HEAD), `arena ${arena} bin ${sizeClass}`, []);
  return { slabs: pages.length, freeRegions: pages.reduce((n, p) => n + r.peek64(pageRecord(l, p) + PR_NFREE), 0) };
}

/** Entries in one core's cache bin of a class. */
export function cacheBinCount(r: MemoryReader, l: TransientLayout, coreId: number, sizeClass: number): number {
  return r.peek64(cacheBinAddr(l, coreId, sizeClass) + CB_COUNT);
}
