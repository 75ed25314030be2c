/**
 * nvm_malloc-style heap: the persistent layout (NVRAM), after IMCG/nvm-malloc types.h
 * (our own code).
 *
 *   [0, 64)          heap header: signature, NVRAM size, chunk size, chunk count,
 *                    version (meta_info), dirty flag
 *   [64, 64+127*8)   activation log: a ring of 127 8 B slots (absolute pointers)
 *   [4096, 8192)     512 root slots
 *   [8192, ...)      chunks of chunkSizeBytes (4 MB, scaled down for small NVRAM)
 * A chunk is an arena chunk (page 0 = chunk header {state, arena id}; pages 1.. hold
 * 4 KB blocks, each starting with a 64 B header) or the first chunk of a huge span
 * (64 B header {state, chunk count, link pairs}, object at +64). Chunks past the bump
 * pointer have state 0 and are unused.
 * Block headers (one line): word 0 = state byte (usage | state) + arena id << 8 +
 *   vdata << 16 (RUN pages: the DRAM address of the run's volatile header, so that one
 *   8 B store makes a run header valid); word 1 = page count (1 for a run);
 *   RUN pages: bytes 16..23 = bitmap (63 bits, bytewise),
 *   bytes 24..25 = bit_idx (0xffff = none), 26..27 = element size, 28..31 = version;
 *   words 4..7 = link pairs on[0] = {ptr, value}, on[1] = {ptr, value}.
 *
 * Invariants: small sizes are 64..1984 B (multiples of 64) in 4 KB runs of
 * (4096-64)/size elements; large sizes are whole pages; huge sizes whole chunks.
 */

export const SIGNATURE = 0x4e56_4d4d_414c; // "NVMMAL"
export const LOG_SLOTS = 127;
export const LOG_OFFSET = 64;
export const ROOT_COUNT = 512;
export const ROOTS_OFFSET = 4096;
export const CHUNKS_OFFSET = 8192;
export const PAGE_BYTES = 4096;
export const HEADER_BYTES = 64;
export const SMALL_MAX_BYTES = PAGE_BYTES / 2 - 64; // 1984
export const BIN_COUNT = SMALL_MAX_BYTES / 64; // 31
export const MAX_CHUNK_SIZE_BYTES = 4 * 1024 * 1024;
export const NO_BIT = 0xffff;

export const HDR = { signature: 0, nvramSize: 8, chunkSize: 16, chunkCount: 24, version: 32, dirty: 40 } as const;
/** Block/chunk header field offsets. */
export const BH = { state: 0, npages: 8, bitmap: 16, bitIdx: 24, elemSize: 26, version: 28, on0ptr: 32, on0val: 40, on1ptr: 48, on1val: 56 } as const;

export const STATE_MASK = 15;
export const enum State {
  NONE = 0,
  INITIALIZING = 1,
  INITIALIZED = 2,
  PREFREE = 4,
  FREEING = 5,
  PREACTIVATE = 6,
  ACTIVATING = 7,
}
export const enum Usage {
  DEFAULT = 0,
  FREE = 16,
  ARENA = 32,
  BLOCK = 48,
  RUN = 64,
  HUGE = 80,
}
export function usageOf(stateByte: number): number {
  return stateByte & ~STATE_MASK & 255;
}
export function stateOf(stateByte: number): number {
  return stateByte & STATE_MASK;
}

export interface Geometry {
  readonly base: number;
  readonly nvramSizeBytes: number;
  readonly chunkSizeBytes: number;
  readonly chunkCount: number;
  readonly chunksBase: number;
  readonly pagesPerChunk: number;
  /** Largest size served from arena pages (half a chunk minus a header). */
  readonly largeMaxBytes: number;
}

/** 4 MB chunks; NVRAM under 64 MB gets a power of two near 1/16 of it (at least 64 KB). */
export function chunkSizeFor(nvramSizeBytes: number): number {
  let c = MAX_CHUNK_SIZE_BYTES;
  while (c > 64 * 1024 && c * 16 > nvramSizeBytes) c /= 2;
  return c;
}

export function computeGeometry(base: number, nvramSizeBytes: number): Geometry {
  const chunkSizeBytes = chunkSizeFor(nvramSizeBytes);
  const chunkCount = Math.floor((nvramSizeBytes - CHUNKS_OFFSET) / chunkSizeBytes);
  if (chunkCount < 1) throw new RangeError(`nvm-malloc: nvramSizeBytes ${nvramSizeBytes} is too small: expected at least ${CHUNKS_OFFSET + chunkSizeBytes} B (metadata and one ${chunkSizeBytes} B chunk)`);
  return {
    base,
    nvramSizeBytes,
    chunkSizeBytes,
    chunkCount,
    chunksBase: base + CHUNKS_OFFSET,
    pagesPerChunk: chunkSizeBytes / PAGE_BYTES,
    largeMaxBytes: chunkSizeBytes / 2 - HEADER_BYTES,
  };
}

export function chunkAddr(g: Geometry, chunk: number): number {
  return g.chunksBase + chunk * g.chunkSizeBytes;
}
export function chunkOf(g: Geometry, addr: number): number {
  const off = addr - g.chunksBase;
  if (off < 0 || off >= g.chunkCount * g.chunkSizeBytes) return -1;
  return Math.floor(off / g.chunkSizeBytes);
}
export function pageOf(addr: number, g: Geometry): number {
  return addr - ((addr - g.chunksBase) % PAGE_BYTES);
}
export function logSlotAddr(g: Geometry, i: number): number {
  return g.base + LOG_OFFSET + i * 8;
}
/** Elements of a run of elemBytes: (4096 - 64) / elemBytes. */
export function runElements(elemBytes: number): number {
  return Math.floor((PAGE_BYTES - HEADER_BYTES) / elemBytes);
}
export function smallClassBytes(sizeBytes: number): number {
  return Math.ceil(sizeBytes / 64) * 64;
}

const TWO_16 = 65536;
/** Header word 0 = state byte + arena id << 8 + vdata << 16. */
export function encodeWord0(stateByte: number, arena: number, vdata: number): number {
  return stateByte + (arena % 256) * 256 + vdata * TWO_16;
}
export function arenaOfWord0(w: number): number {
  return Math.floor(w / 256) % 256;
}
export function vdataOfWord0(w: number): number {
  return Math.floor(w / TWO_16);
}
