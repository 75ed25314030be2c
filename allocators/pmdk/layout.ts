/**
 * PMDK-style heap: the persistent layout (NVRAM) and the allocation classes.
 *
 * Model (after pmem/pmdk src/libpmemobj heap_layout.h, lane.h, ulog.h; our own code):
 *   [0, 64)            heap header: signature, NVRAM size, chunk size, chunk count,
 *                      lane count, zone count, chunks per zone, shutdown-dirty flag
 *   [4096, +8*roots)   root slots (the pmemobj root object, 8 B each)
 *   lanes              laneCount x 256 B: one internal redo log each (64 B header
 *                      {checksum, entry count, capacity}, then 12 entries of 16 B)
 *   zones              each: a 64 B zone header {magic, chunk count}, the 8 B chunk
 *                      headers, then the chunks (chunkSizeBytes each, 4 KiB aligned)
 * A chunk header word = type | flags << 8 | sizeIdx << 16; a span of sizeIdx chunks is
 * described by the header of its first chunk only (interior headers are stale and
 * never read). A run chunk starts with a run header {block size, block count}, then a
 * bitmap of 32-bit words (set = allocated), then the blocks at a 64 B aligned offset.
 * Every block starts with a 16 B object header; word 0 = usable size | flags << 40
 * (flag ALLOCATED), word 1 = type number (never written: nvlab has no type numbers).
 *
 * Invariants: all offsets are 64 B aligned where lines matter; chunk spans never cross
 * a zone; values stored are < 2^53.
 */
export const SIGNATURE = 0x504d_444b_4e56; // "PMDKNV"
export const ZONE_MAGIC = 0x5a4f_4e45;
export const DEFAULT_CHUNK_SIZE_BYTES = 256 * 1024;
/** PMDK zones hold at most 65528 chunks (16 GB); nvlab heaps are smaller, so one zone is typical. */
export const MAX_CHUNKS_PER_ZONE = 65528;
export const ROOT_COUNT = 512;
export const ROOTS_OFFSET = 4096;
export const LANES_OFFSET = ROOTS_OFFSET + ROOT_COUNT * 8;
export const LANE_BYTES = 256;
export const LOG_HEADER_BYTES = 64;
export const LOG_CAPACITY = (LANE_BYTES - LOG_HEADER_BYTES) / 16;
export const OBJ_HEADER_BYTES = 16;
export const RUN_HEADER_BYTES = 16;
export const FLAG_ALLOCATED = 1;
const TWO_40 = 2 ** 40;

export const enum ChunkType {
  UNKNOWN = 0,
  FREE = 2,
  USED = 3,
  RUN = 4,
}

/** Heap header word offsets (bytes). */
export const HDR = { signature: 0, nvramSize: 8, chunkSize: 16, chunkCount: 24, laneCount: 32, zoneCount: 40, chunksPerZone: 48, dirty: 56 } as const;

/** Allocation classes (block sizes incl. the 16 B header): 128..512 by 64, then 4 steps per doubling to 16 KiB. */
export const CLASS_SIZES: readonly number[] = buildClasses();
function buildClasses(): number[] {
  const out: number[] = [];
  for (let s = 128; s <= 512; s += 64) out.push(s);
  for (let base = 512; base < 16384; base *= 2) for (let q = 1; q <= 4; q++) out.push(base + (base / 4) * q);
  return out;
}
export const LARGEST_RUN_BLOCK_BYTES = CLASS_SIZES[CLASS_SIZES.length - 1];

/** Index of the smallest class whose block holds sizeBytes + header, or -1 for a chunk-span (huge) allocation. */
export function classFor(sizeBytes: number): number {
  const need = sizeBytes + OBJ_HEADER_BYTES;
  for (let i = 0; i < CLASS_SIZES.length; i++) if (CLASS_SIZES[i] >= need) return i;
  return -1;
}

export function encodeChunkHeader(type: ChunkType, sizeIdx: number): number {
  return type + sizeIdx * 65536;
}
export function chunkHeaderType(word: number): number {
  return word % 256;
}
export function chunkHeaderSize(word: number): number {
  return Math.floor(word / 65536);
}
export function encodeObjHeader(usableBytes: number): number {
  return usableBytes + FLAG_ALLOCATED * TWO_40;
}
export function objHeaderSize(word: number): number {
  return word % TWO_40;
}
export function objHeaderFlags(word: number): number {
  return Math.floor(word / TWO_40);
}

/** Block count and data offset of a run chunk holding blocks of blockBytes. */
export function runGeometry(chunkSizeBytes: number, blockBytes: number): RunGeometry {
  if (chunkSizeBytes !== geometryChunkBytes || geometries.size >= GEOMETRIES_MAX) {
    geometries.clear();
    geometryChunkBytes = chunkSizeBytes;
  }
  let r = geometries.get(blockBytes);
  if (r === undefined) geometries.set(blockBytes, (r = Object.freeze(computeRunGeometry(chunkSizeBytes, blockBytes))));
  return r;
}

export interface RunGeometry {
  readonly nbits: number;
  readonly bitmapWords: number;
  readonly dataOffset: number;
}

/**
 * Geometries computed so far for one chunk size (host speed only: the allocator asks on
 * every malloc and free, and the computation steps nbits down one at a time).
 */
const geometries = new Map<number, RunGeometry>();
let geometryChunkBytes = -1;
/** Block sizes kept (heap walks of crashed images may ask for any size read from NVRAM). */
const GEOMETRIES_MAX = 256;

function computeRunGeometry(chunkSizeBytes: number, blockBytes: number): RunGeometry {
  let nbits = Math.floor((chunkSizeBytes - RUN_HEADER_BYTES) / blockBytes);
  for (;;) {
    const bitmapWords = Math.ceil(nbits / 32);
    const dataOffset = alignUp(RUN_HEADER_BYTES + bitmapWords * 4, 64);
    if (dataOffset + nbits * blockBytes <= chunkSizeBytes) return { nbits, bitmapWords, dataOffset };
    nbits--;
  }
}

export function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Where everything lives, derived from the NVRAM size (and recorded in the heap header). */
export interface Geometry {
  readonly base: number;
  readonly nvramSizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly laneCount: number;
  readonly lanesBase: number;
  readonly zoneCount: number;
  readonly chunksPerZone: number;
  readonly chunkCount: number;
  /** Zone z: header address, first chunk header address, first chunk data address. */
  readonly zones: readonly { readonly header: number; readonly chunkHeaders: number; readonly data: number; readonly chunks: number; readonly first: number }[];
}

/** 1024 lanes as in PMDK; heaps under 4 MiB get 64 (a core uses lane core.id % laneCount). */
export function laneCountFor(nvramSizeBytes: number): number {
  return nvramSizeBytes >= 4 * 1024 * 1024 ? 1024 : 64;
}

export function computeGeometry(base: number, nvramSizeBytes: number, chunkSizeBytes: number, laneCount: number, maxChunksPerZone = MAX_CHUNKS_PER_ZONE): Geometry {
  const lanesBase = base + LANES_OFFSET;
  let zoneStart = alignUp(LANES_OFFSET + laneCount * LANE_BYTES, 4096);
  const zones: { header: number; chunkHeaders: number; data: number; chunks: number; first: number }[] = [];
  let first = 0;
  for (;;) {
    const room = nvramSizeBytes - zoneStart;
    // header 64 B + 8 B per chunk (rounded to 4 KiB) + the chunks
    let chunks = Math.min(maxChunksPerZone, Math.floor(room / chunkSizeBytes));
    while (chunks > 0 && alignUp(64 + chunks * 8, 4096) + chunks * chunkSizeBytes > room) chunks--;
    if (chunks <= 0) break;
    const meta = alignUp(64 + chunks * 8, 4096);
    zones.push({ header: base + zoneStart, chunkHeaders: base + zoneStart + 64, data: base + zoneStart + meta, chunks, first });
    first += chunks;
    zoneStart += meta + chunks * chunkSizeBytes;
  }
  if (zones.length === 0) {
    throw new RangeError(`pmdk: nvramSizeBytes ${nvramSizeBytes} is too small: expected room for the header, ${laneCount} lanes and at least one ${chunkSizeBytes} B chunk`);
  }
  return { base, nvramSizeBytes, chunkSizeBytes, laneCount, lanesBase, zoneCount: zones.length, chunksPerZone: zones[0].chunks, chunkCount: first, zones };
}

export function zoneOfChunk(g: Geometry, chunk: number): number {
  for (let z = g.zoneCount - 1; z >= 0; z--) if (chunk >= g.zones[z].first) return z;
  return 0;
}
export function chunkHeaderAddr(g: Geometry, chunk: number): number {
  const z = g.zones[zoneOfChunk(g, chunk)];
  return z.chunkHeaders + (chunk - z.first) * 8;
}
export function chunkDataAddr(g: Geometry, chunk: number): number {
  const z = g.zones[zoneOfChunk(g, chunk)];
  return z.data + (chunk - z.first) * g.chunkSizeBytes;
}
/** Chunk index holding addr, or -1 when addr is not in any chunk. */
export function chunkOfAddr(g: Geometry, addr: number): number {
  for (const z of g.zones) {
    if (addr >= z.data && addr < z.data + z.chunks * g.chunkSizeBytes) return z.first + Math.floor((addr - z.data) / g.chunkSizeBytes);
  }
  return -1;
}
export function laneAddr(g: Geometry, lane: number): number {
  return g.lanesBase + lane * LANE_BYTES;
}
