/**
 * PMDK-style heap: the uncharged heap walk and consistency check for the checkers.
 *
 * Model: walk each zone's chunk headers span by span. USED spans are one allocated
 * object; RUN chunks contribute one extent per block (bit set = allocated, clear =
 * free); FREE spans are free whole chunks. Extents report usable bytes (block minus
 * its 16 B header). The check validates the header walk, run headers, object headers
 * of allocated blocks, clobbered lane logs, and, for zones already loaded, that the
 * DRAM free map and the buckets agree with NVRAM (a reservable bit must be clear).
 *
 * Invariants: read-only (MemoryReader peeks only).
 */
import type { MemoryReader } from '../../sim/api.ts';
import type { ConsistencyReport, Extent, HeapWalk } from '../contract.ts';
import { ChunkType, CLASS_SIZES, FLAG_ALLOCATED, HDR, OBJ_HEADER_BYTES, RUN_HEADER_BYTES, SIGNATURE, chunkDataAddr, chunkHeaderAddr, chunkHeaderSize, chunkHeaderType, laneAddr, objHeaderFlags, objHeaderSize, runGeometry, zoneOfChunk, type Geometry } from './layout.ts';
import { BK, type PmdkDram } from './dram.ts';

interface Span {
  readonly chunk: number;
  readonly size: number;
  readonly type: number;
}

function spans(reader: MemoryReader, g: Geometry, errors: string[]): Span[] {
  const out: Span[] = [];
  for (const z of g.zones) {
    const end = z.first + z.chunks;
    let c = z.first;
    while (c < end) {
      const h = reader.peek64(chunkHeaderAddr(g, c));
      const type = chunkHeaderType(h);
      let size = chunkHeaderSize(h);
      if (size < 1 || c + size > end) {
        errors.push(`chunk ${c} header 0x${chunkHeaderAddr(g, c).toString(16)}: size ${size} outside its zone`);
        size = Math.max(1, Math.min(size, end - c));
      }
      out.push({ chunk: c, size, type });
      c += size;
    }
  }
  return out;
}

/**
 * Scratch lists a walk fills (by index: setting a list's length to 0 would drop its
 * storage) before copying them out at their final length (a list grown push by push to
 * ~2,000 extents allocates about three times its size). A walk runs to its end before
 * another starts (synchronous), so one pair serves every walk.
 */
interface Scratch {
  readonly list: Extent[];
  n: number;
}
const scratchAllocated: Scratch = { list: [], n: 0 };
const scratchFree: Scratch = { list: [], n: 0 };

function put(s: Scratch, e: Extent): void {
  if (s.n < s.list.length) s.list[s.n] = e;
  else s.list.push(e);
  s.n++;
}

export function walkPmdkHeap(reader: MemoryReader, g: Geometry): HeapWalk {
  scratchAllocated.n = 0;
  scratchFree.n = 0;
  fillWalk(reader, g, scratchAllocated, scratchFree);
  return { allocated: scratchAllocated.list.slice(0, scratchAllocated.n), free: scratchFree.list.slice(0, scratchFree.n) };
}

function fillWalk(reader: MemoryReader, g: Geometry, allocated: Scratch, free: Scratch): void {
  for (const s of spans(reader, g, [])) {
    const data = chunkDataAddr(g, s.chunk);
    if (s.type === ChunkType.USED) put(allocated, { addr: data + OBJ_HEADER_BYTES, sizeBytes: s.size * g.chunkSizeBytes - OBJ_HEADER_BYTES });
    else if (s.type === ChunkType.FREE) put(free, { addr: data, sizeBytes: s.size * g.chunkSizeBytes });
    else if (s.type === ChunkType.RUN) {
      const bs = reader.peek64(data);
      if (!CLASS_SIZES.includes(bs)) continue;
      const { nbits, dataOffset } = runGeometry(g.chunkSizeBytes, bs);
      const exts = runExtents(data, bs, nbits, dataOffset);
      let word = 0;
      for (let i = 0; i < nbits; i++) {
        if ((i & 31) === 0) word = bitmapWord(reader, data, i);
        put(((word >>> (i & 31)) & 1) !== 0 ? allocated : free, exts[i]);
      }
    }
  }
}

/**
 * The extents of a run's blocks (usable bytes after the header), allocated or free alike,
 * made once per run address and geometry and shared by every walk (frozen: the
 * HeapWalk's extents are read-only values). A walk of a 4 MB heap otherwise allocates
 * ~2,000 of them, most of a crash check's host garbage. At most RUN_EXTENT_ENTRIES runs
 * are kept (all dropped beyond); host memory only, no result changes.
 */
const runExtentCache = new Map<number, RunExtents[]>();
const RUN_EXTENT_ENTRIES = 1024;
let runExtentCount = 0;

interface RunExtents {
  readonly bs: number;
  readonly nbits: number;
  readonly dataOffset: number;
  readonly extents: readonly Extent[];
}

function runExtents(data: number, bs: number, nbits: number, dataOffset: number): readonly Extent[] {
  let at = runExtentCache.get(data);
  if (at !== undefined) {
    for (const r of at) if (r.bs === bs && r.nbits === nbits && r.dataOffset === dataOffset) return r.extents;
  }
  if (runExtentCount >= RUN_EXTENT_ENTRIES) {
    runExtentCache.clear();
    runExtentCount = 0;
    at = undefined;
  }
  const extents: Extent[] = [];
  for (let i = 0; i < nbits; i++) extents.push(Object.freeze({ addr: data + dataOffset + i * bs + OBJ_HEADER_BYTES, sizeBytes: bs - OBJ_HEADER_BYTES }));
  if (at === undefined) runExtentCache.set(data, (at = []));
  at.push({ bs, nbits, dataOffset, extents: Object.freeze(extents) });
  runExtentCount++;
  return extents;
}

/** The 32-bit bitmap word holding bit i of a run (read once per 32 bits by the walks). */
function bitmapWord(reader: MemoryReader, runData: number, i: number): number {
  return reader.peek(runData + RUN_HEADER_BYTES + (i >>> 5) * 4, 4);
}

export function checkPmdkHeap(reader: MemoryReader, g: Geometry, d: PmdkDram): ConsistencyReport {
  const errors: string[] = [];
  if (reader.peek64(g.base + HDR.signature) !== SIGNATURE) errors.push(`heap header 0x${g.base.toString(16)}: bad signature`);
  for (let lane = 0; lane < g.laneCount; lane++) {
    if (reader.peek64(laneAddr(g, lane)) !== 0) errors.push(`lane ${lane} log 0x${laneAddr(g, lane).toString(16)}: not clobbered`);
  }
  for (const s of spans(reader, g, errors)) {
    const data = chunkDataAddr(g, s.chunk);
    if (s.type === ChunkType.RUN) checkRun(reader, g, s, errors);
    else if (s.type === ChunkType.USED) checkObject(reader, data, s.size * g.chunkSizeBytes - OBJ_HEADER_BYTES, errors);
    else if (s.type !== ChunkType.FREE) errors.push(`chunk ${s.chunk} header: unknown type ${s.type}`);
    checkFreeMap(reader, g, d, s, errors);
  }
  checkBuckets(reader, g, d, errors);
  return { ok: errors.length === 0, errors };
}

function checkRun(reader: MemoryReader, g: Geometry, s: Span, errors: string[]): void {
  const data = chunkDataAddr(g, s.chunk);
  const bs = reader.peek64(data);
  if (s.size !== 1 || !CLASS_SIZES.includes(bs)) {
    errors.push(`run 0x${data.toString(16)}: block size ${bs}, span ${s.size} (expected a class size, 1 chunk)`);
    return;
  }
  const { nbits, dataOffset } = runGeometry(g.chunkSizeBytes, bs);
  if (reader.peek64(data + 8) !== nbits) errors.push(`run 0x${data.toString(16)}: block count ${reader.peek64(data + 8)}, expected ${nbits}`);
  let word = 0;
  for (let i = 0; i < nbits; i++) {
    if ((i & 31) === 0) word = bitmapWord(reader, data, i);
    if (((word >>> (i & 31)) & 1) !== 0) checkObject(reader, data + dataOffset + i * bs, bs - OBJ_HEADER_BYTES, errors);
  }
}

function checkObject(reader: MemoryReader, block: number, usable: number, errors: string[]): void {
  const h = reader.peek64(block);
  if (objHeaderFlags(h) !== FLAG_ALLOCATED || objHeaderSize(h) !== usable) {
    errors.push(`object header 0x${block.toString(16)}: size ${objHeaderSize(h)} flags ${objHeaderFlags(h)}, expected ${usable} allocated`);
  }
}

function zoneLoaded(reader: MemoryReader, g: Geometry, d: PmdkDram, chunk: number): boolean {
  return reader.peek64(d.zoneLoaded + zoneOfChunk(g, chunk) * 8) === 1;
}

function checkFreeMap(reader: MemoryReader, g: Geometry, d: PmdkDram, s: Span, errors: string[]): void {
  if (!zoneLoaded(reader, g, d, s.chunk)) return;
  const want = s.type === ChunkType.FREE ? 1 : 0;
  for (let c = s.chunk; c < s.chunk + s.size; c++) {
    if (reader.peek(d.freeMap + c, 1) !== want) errors.push(`DRAM free map chunk ${c}: ${1 - want}, NVRAM says ${want === 1 ? 'free' : 'in use'}`);
  }
}

function checkBuckets(reader: MemoryReader, g: Geometry, d: PmdkDram, errors: string[]): void {
  for (let a = 0; a < d.arenas; a++) {
    for (let cls = 0; cls < CLASS_SIZES.length; cls++) {
      const b = d.bucket(a, cls);
      const run = reader.peek64(b + BK.run) - 1;
      if (run < 0 || reader.peek64(b + BK.avail) === 0) continue;
      const data = chunkDataAddr(g, run);
      const { bitmapWords } = runGeometry(g.chunkSizeBytes, CLASS_SIZES[cls]);
      for (let i = 0; i < bitmapWords; i++) {
        const both = reader.peek(b + BK.bits + 4 * i, 4) & reader.peek(data + RUN_HEADER_BYTES + 4 * i, 4);
        if (both !== 0) errors.push(`bucket arena ${a} class ${CLASS_SIZES[cls]}: run 0x${data.toString(16)} word ${i} reservable bits 0x${(both >>> 0).toString(16)} are allocated in NVRAM`);
      }
    }
  }
}
