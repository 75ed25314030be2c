/**
 * nvm_malloc-style heap: the uncharged heap walk and consistency check.
 *
 * Model: walk chunk headers (arena chunks page by page; huge spans by their count;
 * chunks past the first state-0 chunk are unused and free). Allocated extents: run
 * elements whose bitmap bit is set, BLOCK pages (object at +64), HUGE spans (object
 * at +64); free extents: clear run elements, FREE page runs and spans, unused chunks.
 * The check validates header usages, counts and states (every header INITIALIZED when
 * no operation is in flight) and that each run's volatile header
 * bitmap equals its persistent bitmap.
 *
 * Invariants: read-only (MemoryReader peeks only).
 */
import type { MemoryReader } from '../../sim/api.ts';
import type { ConsistencyReport, Extent, HeapWalk } from '../contract.ts';
import { BH, HDR, vdataOfWord0, HEADER_BYTES, PAGE_BYTES, SIGNATURE, SMALL_MAX_BYTES, State, Usage, chunkAddr, runElements, stateOf, usageOf, type Geometry } from './layout.ts';
import { VH } from './dram.ts';

interface Visitor {
  extent(kind: 'allocated' | 'free', addr: number, sizeBytes: number): void;
  /** A chunk header (`chunk` its index) or a page header in an arena chunk (`chunk` -1); headerName names it. */
  header(h: number, usage: number, state: number, chunk: number): void;
  error(msg: string): void;
}

/** How a header passed to Visitor.header is named in messages (built only for a message). */
function headerName(h: number, chunk: number): string {
  return chunk >= 0 ? `chunk ${chunk}` : `page 0x${h.toString(16)}`;
}

function visit(reader: MemoryReader, g: Geometry, v: Visitor): void {
  let c = 0;
  while (c < g.chunkCount) {
    const h = chunkAddr(g, c);
    const s = reader.peek(h + BH.state, 1);
    if (s === 0) {
      v.extent('free', h, (g.chunkCount - c) * g.chunkSizeBytes);
      return;
    }
    v.header(h, usageOf(s), stateOf(s), c);
    if (usageOf(s) === Usage.ARENA) {
      visitArena(reader, g, h, v);
      c++;
      continue;
    }
    const n = reader.peek64(h + BH.npages);
    if (n < 1 || c + n > g.chunkCount) v.error(`chunk ${c} header 0x${h.toString(16)}: span of ${n} chunks out of range`);
    const k = Math.max(1, Math.min(n, g.chunkCount - c));
    if (usageOf(s) === Usage.HUGE) v.extent('allocated', h + HEADER_BYTES, k * g.chunkSizeBytes - HEADER_BYTES);
    else if (usageOf(s) === Usage.FREE) v.extent('free', h, k * g.chunkSizeBytes);
    else v.error(`chunk ${c} header 0x${h.toString(16)}: unknown usage ${usageOf(s)}`);
    c += k;
  }
}

function visitArena(reader: MemoryReader, g: Geometry, ch: number, v: Visitor): void {
  let p = 1;
  while (p < g.pagesPerChunk) {
    const page = ch + p * PAGE_BYTES;
    const s = reader.peek(page + BH.state, 1);
    const usage = usageOf(s);
    v.header(page, usage, stateOf(s), -1);
    if (usage === Usage.RUN) {
      const elem = reader.peek(page + BH.elemSize, 2);
      if (elem < 64 || elem > SMALL_MAX_BYTES || elem % 64 !== 0) v.error(`run 0x${page.toString(16)}: element size ${elem}`);
      else {
        // One peek per bitmap byte (the same bytes, hence the same lines, as one per element).
        let bits = 0;
        for (let i = 0; i < runElements(elem); i++) {
          if ((i & 7) === 0) bits = reader.peek(page + BH.bitmap + (i >> 3), 1);
          v.extent((bits & (1 << (i & 7))) !== 0 ? 'allocated' : 'free', page + HEADER_BYTES + i * elem, elem);
        }
      }
      p++;
      continue;
    }
    const n = reader.peek64(page + BH.npages);
    if (n < 1 || p + n > g.pagesPerChunk) v.error(`page header 0x${page.toString(16)}: ${n} pages out of range`);
    const k = Math.max(1, Math.min(n, g.pagesPerChunk - p));
    if (usage === Usage.BLOCK) v.extent('allocated', page + HEADER_BYTES, k * PAGE_BYTES - HEADER_BYTES);
    else if (usage === Usage.FREE) v.extent('free', page, k * PAGE_BYTES);
    else v.error(`page header 0x${page.toString(16)}: unknown usage ${usage}`);
    p += k;
  }
}

export function walkNvmHeap(reader: MemoryReader, g: Geometry): HeapWalk {
  const allocated: Extent[] = [];
  const free: Extent[] = [];
  visit(reader, g, {
    extent: (kind, addr, sizeBytes) => (kind === 'allocated' ? allocated : free).push({ addr, sizeBytes }),
    header: () => undefined,
    error: () => undefined,
  });
  return { allocated, free };
}

export function checkNvmHeap(reader: MemoryReader, g: Geometry): ConsistencyReport {
  const errors: string[] = [];
  if (reader.peek64(g.base + HDR.signature) !== SIGNATURE) errors.push(`heap header 0x${g.base.toString(16)}: bad signature`);
  const current = reader.peek64(g.base + HDR.version) - 1;
  visit(reader, g, {
    extent: () => undefined,
    header: (h, usage, state, chunk) => {
      // Link pairs and bit_idx left in an INITIALIZED header (a crash after the final
      // state store) are inert: recovery reads them only in ACTIVATING / FREEING.
      if (state !== State.INITIALIZED) errors.push(`${headerName(h, chunk)} header 0x${h.toString(16)}: state ${state}, expected INITIALIZED`);
      if (usage === Usage.RUN) checkRun(reader, h, current, errors);
    },
    error: (m) => errors.push(m),
  });
  return { ok: errors.length === 0, errors };
}

function checkRun(reader: MemoryReader, page: number, current: number, errors: string[]): void {
  const elem = reader.peek(page + BH.elemSize, 2);
  if (elem < 64) return;
  const n = runElements(elem);
  const lo = reader.peek(page + BH.bitmap, 4);
  const hi = reader.peek(page + BH.bitmap + 4, 4);
  const beyond = n <= 32 ? Math.floor(lo / 2 ** n) + hi : Math.floor(hi / 2 ** (n - 32));
  if (beyond !== 0) errors.push(`run 0x${page.toString(16)}: bits beyond ${n} elements set`);
  // Only a run adopted in this incarnation (version = current) has a valid vdata pointer.
  if (reader.peek(page + BH.version, 4) !== current) return;
  const vh = vdataOfWord0(reader.peek64(page + BH.state));
  if (vh === 0 || reader.peek64(vh + VH.nvmRun) !== page) {
    errors.push(`run 0x${page.toString(16)}: vdata 0x${vh.toString(16)} does not point at its volatile header`);
    return;
  }
  const vlo = reader.peek(vh + VH.bits, 4);
  const vhi = reader.peek(vh + VH.bits + 4, 4);
  if (vlo !== lo || vhi !== hi) errors.push(`run 0x${page.toString(16)}: volatile bitmap ${vhi.toString(16)}:${vlo.toString(16)} differs from NVRAM ${hi.toString(16)}:${lo.toString(16)}`);
}
