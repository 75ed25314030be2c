/**
 * The persistency trace recorder: a compact, append-only log of NVRAM store units,
 * flushes, fences and operation boundaries.
 *
 * Model: structure of arrays, 16 bytes an event (kind u8, core u8, site u16, arg u32,
 * valueLo u32, valueHi u32), grown by doubling; no object per event. Store units are
 * the failure-atomic pieces of P1 (at most 8 bytes, never crossing an 8-byte word).
 *
 * Invariants: events are appended in the machine's execution order; arg of a store is
 * the NVRAM byte offset of the unit, of a flush the NVRAM line index.
 */
import type { NvramImage, PersistTrace } from '../api.ts';
import { TraceKind } from '../api.ts';

const INITIAL_CAPACITY = 1024;

export class TraceRecorder implements PersistTrace {
  private kinds = new Uint8Array(INITIAL_CAPACITY);
  private cores = new Uint8Array(INITIAL_CAPACITY);
  private sites = new Uint16Array(INITIAL_CAPACITY);
  private args = new Uint32Array(INITIAL_CAPACITY);
  private los = new Uint32Array(INITIAL_CAPACITY);
  private his = new Uint32Array(INITIAL_CAPACITY);
  length = 0;

  constructor(readonly base: NvramImage) {}

  private grow(): void {
    const cap = this.kinds.length * 2;
    const g8 = (a: Uint8Array) => { const n = new Uint8Array(cap); n.set(a); return n; };
    const g32 = (a: Uint32Array) => { const n = new Uint32Array(cap); n.set(a); return n; };
    this.kinds = g8(this.kinds);
    this.cores = g8(this.cores);
    const s = new Uint16Array(cap); s.set(this.sites); this.sites = s;
    this.args = g32(this.args);
    this.los = g32(this.los);
    this.his = g32(this.his);
  }

  push(kind: TraceKind, core: number, site: number, arg: number, lo: number, hi: number): void {
    const i = this.length;
    if (i === this.kinds.length) this.grow();
    this.kinds[i] = kind;
    this.cores[i] = core;
    this.sites[i] = site;
    this.args[i] = arg;
    this.los[i] = lo;
    this.his[i] = hi;
    this.length = i + 1;
  }

  kind(i: number): TraceKind { return this.kinds[i] as TraceKind; }
  core(i: number): number { return this.cores[i]; }
  site(i: number): number { return this.sites[i]; }
  arg(i: number): number { return this.args[i]; }
  valueLo(i: number): number { return this.los[i]; }
  valueHi(i: number): number { return this.his[i]; }
  byteLength(): number { return this.length * 16; }
}
