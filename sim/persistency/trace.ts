/**
 * The persistency trace recorder: a compact, append-only log of NVRAM store units,
 * flushes, fences and operation boundaries.
 *
 * Model: 12 bytes an event, as three u32 words in one Uint32Array (kind u7 | HAS_HI << 7 |
 * core u8 << 8 | site u16 << 16, arg u32, valueLo u32); no object per event. The high
 * bits of a store's value are non-zero for few events (values of 2^32 or more): those
 * events carry the HAS_HI flag and their valueHi sits in a side list, (event, hi) in
 * event order, found by binary search. A long trace is written once into fresh host
 * memory, which costs a page fault per 4 KiB: a quarter fewer than with a fourth word.
 * Events live in chunks of CHUNK_EVENTS: the first chunk grows by doubling up to that
 * size (short traces stay small), later chunks are allocated full-size and never
 * copied, so recording costs no re-copying of a long trace. Event i is in chunk
 * i >> CHUNK_SHIFT.
 * Store units are the failure-atomic pieces of P1 (at most 8 bytes, never crossing an
 * 8-byte word).
 *
 * Invariants: events are appended in the machine's execution order; arg of a store is
 * the NVRAM byte offset of the unit, of a flush the NVRAM line index; every chunk but
 * the last holds exactly CHUNK_EVENTS events; an event has HAS_HI iff its valueHi is
 * non-zero, and then it is in the side list (ascending events).
 */
import type { NvramImage, PersistTrace } from '../api.ts';
import { TraceKind } from '../api.ts';
import { lowerBound } from '../search.ts';

const INITIAL_EVENTS = 1024;
const CHUNK_SHIFT = 16;
const CHUNK_EVENTS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_EVENTS - 1;
/** u32 words an event. */
const EVENT_WORDS = 3;
/** Kind bits of an event's first word, and the flag of an event whose valueHi is in the side list. */
const KIND_MASK = 0x7f;
const HAS_HI = 0x80;
/** Side-list entries of a new recorder (the list doubles when full). */
const INITIAL_HI = 64;

/**
 * Full-size chunks of emptied recorders (restart, release), reused by later ones: host
 * memory only (a fresh chunk costs a page fault per 4 KiB the first time it is written).
 * Capped; contents are stale and never read (only events below `length` are).
 */
const spareChunks: Uint32Array[] = [];
const SPARE_CHUNKS_MAX = 256;

function giveBack(chunks: readonly Uint32Array[], from: number): void {
  for (let i = from; i < chunks.length && spareChunks.length < SPARE_CHUNKS_MAX; i++) {
    if (chunks[i].length === CHUNK_EVENTS * EVENT_WORDS) spareChunks.push(chunks[i]);
  }
}

/** A copy of `a` with twice the room. */
function grown(a: Uint32Array): Uint32Array {
  const n = new Uint32Array(a.length * 2);
  n.set(a);
  return n;
}

export class TraceRecorder implements PersistTrace {
  /** Chunks in order; the last is `cur`. */
  private readonly chunks: Uint32Array[];
  /** The chunk being filled and the word position of the next event in it. */
  private cur: Uint32Array;
  private pos = 0;
  /**
   * The side list: the first hiCount entries of hiEvents (events with a non-zero
   * valueHi, ascending) and hiValues (those values). Append-only like the chunks: a
   * grown list is a copy, entries below hiCount are never rewritten.
   */
  private hiEvents: Uint32Array = new Uint32Array(INITIAL_HI);
  private hiValues: Uint32Array = new Uint32Array(INITIAL_HI);
  private hiCount = 0;

  constructor(public base: NvramImage) {
    this.cur = new Uint32Array(INITIAL_EVENTS * EVENT_WORDS);
    this.chunks = [this.cur];
  }

  /**
   * Empty this recorder for a new trace over `base`, keeping its first chunk's buffer (a
   * machine reset per crash state reuses it: no buffer regrown per state). The caller
   * must hold no use of the old trace.
   */
  restart(base: NvramImage): this {
    this.base = base;
    giveBack(this.chunks, 1);
    this.cur = this.chunks[0];
    this.chunks.length = 1;
    this.pos = 0;
    this.hiCount = 0;
    return this;
  }

  /**
   * Empty this recorder for good, handing its full-size chunks to later recorders (the
   * machine is done: SimMachine.dispose). The caller must hold no use of the trace.
   */
  release(): void {
    giveBack(this.chunks, 0);
    this.cur = new Uint32Array(INITIAL_EVENTS * EVENT_WORDS);
    this.chunks.length = 0;
    this.chunks.push(this.cur);
    this.pos = 0;
    this.hiCount = 0;
  }

  /** `cur` is full: double it while it is the first, short chunk; else start a new chunk. */
  private grow(): void {
    if (this.chunks.length === 1 && this.cur.length < CHUNK_EVENTS * EVENT_WORDS) {
      this.cur = grown(this.cur);
      this.chunks[0] = this.cur;
      return;
    }
    this.cur = spareChunks.pop() ?? new Uint32Array(CHUNK_EVENTS * EVENT_WORDS);
    this.pos = 0;
    this.chunks.push(this.cur);
  }

  /** Events recorded: every chunk but the last is full (see grow). */
  get length(): number {
    return (this.chunks.length - 1) * CHUNK_EVENTS + this.pos / EVENT_WORDS;
  }

  push(kind: TraceKind, core: number, site: number, arg: number, lo: number, hi: number): void {
    let b = this.cur;
    let p = this.pos;
    if (p === b.length) {
      this.grow();
      b = this.cur;
      p = this.pos;
    }
    b[p] = (kind & KIND_MASK) | ((core & 0xff) << 8) | (site << 16);
    b[p + 1] = arg;
    b[p + 2] = lo;
    this.pos = p + EVENT_WORDS;
    if (hi !== 0) this.pushHi(b, p, hi);
  }

  /** Flag the event just written at word p of chunk b and put its valueHi in the side list. */
  private pushHi(b: Uint32Array, p: number, hi: number): void {
    b[p] |= HAS_HI;
    const n = this.hiCount;
    if (n === this.hiEvents.length) {
      this.hiEvents = grown(this.hiEvents);
      this.hiValues = grown(this.hiValues);
    }
    this.hiEvents[n] = (this.chunks.length - 1) * CHUNK_EVENTS + p / EVENT_WORDS;
    this.hiValues[n] = hi;
    this.hiCount = n + 1;
  }

  private word(i: number, k: number): number {
    return this.chunks[i >>> CHUNK_SHIFT][(i & CHUNK_MASK) * EVENT_WORDS + k];
  }

  kind(i: number): TraceKind { return (this.word(i, 0) & KIND_MASK) as TraceKind; }
  core(i: number): number { return (this.word(i, 0) >>> 8) & 0xff; }
  site(i: number): number { return this.word(i, 0) >>> 16; }
  arg(i: number): number { return this.word(i, 1); }
  valueLo(i: number): number { return this.word(i, 2); }
  valueHi(i: number): number {
    return (this.word(i, 0) & HAS_HI) === 0 ? 0 : this.hiValues[lowerBound(this.hiEvents, i, this.hiCount)];
  }
  /** Event words plus the side list's entries (8 bytes each). */
  byteLength(): number { return this.length * EVENT_WORDS * 4 + this.hiCount * 8; }
}
