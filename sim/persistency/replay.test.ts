/**
 * Property tests: the replayer against a naive reference that keeps whole per-line
 * histories (persistency.md P1-P9), in line, word and eADR modes, for random
 * multi-core programs of stores (1/2/4/8 B, non-temporal), flushes and fences.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TraceKind, type NvramImage } from '../api.ts';
import { TraceRecorder } from './trace.ts';
import { PersistReplayer, type Deviation, type PersistencyMode, unitSizeBytes } from './replay.ts';
import { hashImage, hashKey } from './hash.ts';
import { materializeImage } from './image.ts';
import { prefixHash, prefixImage, prefixUnchanged } from './prefix.ts';
import { emptyImage, imageFromPages } from '../memory.ts';

const SIZE = 4096 * 4;
/** Lines used by the programs: a few per page across three pages. */
const LINES = [0, 1, 2, 63, 64, 65, 130];

type Ev = { k: 'st'; core: number; line: number; word: number; size: 1 | 2 | 4 | 8; sub: number; v: number; nt: boolean }
  | { k: 'fl'; core: number; line: number; kind: TraceKind.CLFLUSH | TraceKind.CLWB | TraceKind.CLFLUSHOPT }
  | { k: 'fence'; core: number };

const evArb: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('st' as const), core: fc.nat(2), line: fc.constantFrom(...LINES), word: fc.nat(7), size: fc.constantFrom(1, 2, 4, 8) as fc.Arbitrary<1 | 2 | 4 | 8>, sub: fc.nat(7), v: fc.nat(0xffffffff), nt: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fl' as const), core: fc.nat(2), line: fc.constantFrom(...LINES), kind: fc.constantFrom(TraceKind.CLFLUSH, TraceKind.CLWB, TraceKind.CLFLUSHOPT) as fc.Arbitrary<TraceKind.CLFLUSH | TraceKind.CLWB | TraceKind.CLFLUSHOPT> }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fence' as const), core: fc.nat(2) }) },
);

function buildTrace(evs: Ev[], base: NvramImage): TraceRecorder {
  const t = new TraceRecorder(base);
  for (const e of evs) {
    if (e.k === 'st') {
      const nt = e.nt && e.size === 8;
      const off = e.line * 64 + e.word * 8 + (e.size === 8 ? 0 : (e.sub * e.size) % 8);
      const kind = nt ? TraceKind.NTSTORE8 : e.size === 8 ? TraceKind.STORE8 : e.size === 4 ? TraceKind.STORE4 : e.size === 2 ? TraceKind.STORE2 : TraceKind.STORE1;
      const lo = e.size === 8 ? e.v : e.v % 2 ** (8 * e.size);
      t.push(kind, e.core, 1, off, lo >>> 0, e.size === 8 ? e.v % 0x20_0000 : 0);
    } else if (e.k === 'fl') t.push(e.kind, e.core, 2, e.line, 0, 0);
    else t.push(TraceKind.FENCE, e.core, 3, 0, 0, 0);
  }
  return t;
}

/** The naive reference: whole per-line histories, lo per line, per-core clwb entries. */
function naiveBounds(t: TraceRecorder, upto: number, mode: PersistencyMode): { W: Map<number, number[]>; lo: Map<number, number> } {
  const W = new Map<number, number[]>();
  const lo = new Map<number, number>();
  const pend: [number, number][][] = [[], [], []];
  for (let i = 0; i < upto; i++) {
    const k = t.kind(i);
    if (k <= TraceKind.NTSTORE8) {
      const L = t.arg(i) >>> 6;
      const w = W.get(L) ?? [];
      w.push(i);
      W.set(L, w);
      if (mode === 'eadr') lo.set(L, w.length);
      else if (k === TraceKind.NTSTORE8) pend[t.core(i)].push([L, w.length]);
    } else if (mode === 'eadr') continue;
    else if (k === TraceKind.CLFLUSH) lo.set(t.arg(i), (W.get(t.arg(i)) ?? []).length);
    else if (k === TraceKind.CLWB || k === TraceKind.CLFLUSHOPT) pend[t.core(i)].push([t.arg(i), (W.get(t.arg(i)) ?? []).length]);
    else if (k === TraceKind.FENCE) {
      for (const [L, n] of pend[t.core(i)]) lo.set(L, Math.max(lo.get(L) ?? 0, n));
      pend[t.core(i)] = [];
    }
  }
  return { W, lo };
}

/** Build an image from the base by applying, per unit, whether it is taken. */
function naiveImage(t: TraceRecorder, base: NvramImage, taken: (ev: number) => boolean, upto: number): NvramImage {
  const pages = new Map<number, Uint8Array>();
  for (const p of base.pageIndices()) pages.set(p, base.page(p)!.slice());
  for (let i = 0; i < upto; i++) {
    if (t.kind(i) > TraceKind.NTSTORE8 || !taken(i)) continue;
    const off = t.arg(i);
    const p = off >>> 12;
    let page = pages.get(p);
    if (!page) { page = new Uint8Array(4096); pages.set(p, page); }
    const size = unitSizeBytes(t.kind(i));
    let lo = t.valueLo(i);
    const hi = t.valueHi(i);
    for (let b = 0; b < size; b++) {
      page[(off & 4095) + b] = b < 4 ? lo & 0xff : (hi >>> (8 * (b - 4))) & 0xff;
      if (b < 4) lo >>>= 8;
    }
  }
  return imageFromPages(base.nvramSizeBytes, pages);
}

function bytesOf(img: NvramImage): string {
  const m = materializeImage(img);
  return m.pageIndices().map((p) => `${p}:${Buffer.from(m.page(p)!).toString('hex')}`).join('|');
}

/**
 * Reference choice: per entity a prefix count (absolute); a unit is taken iff its index
 * within its entity's history is below the entity's prefix.
 */
function naiveChoice(t: TraceRecorder, upto: number, mode: PersistencyMode, base: NvramImage, devs: readonly Deviation[]): NvramImage {
  const { W, lo } = naiveBounds(t, upto, mode);
  const take = new Set<number>();
  const devMap = new Map(devs.map(([e, x]) => [e, x]));
  for (const [L, units] of W) {
    const loL = lo.get(L) ?? 0;
    if (mode !== 'word') {
      const x = devMap.get(L) ?? 0;
      units.slice(0, loL + (mode === 'eadr' ? 0 : x)).forEach((u) => take.add(u));
      continue;
    }
    // word mode: lo_w = units of w among the first lo_L units of L
    const byWord = new Map<number, number[]>();
    units.forEach((u) => { const w = t.arg(u) >>> 3; byWord.set(w, [...(byWord.get(w) ?? []), u]); });
    for (const [w, wu] of byWord) {
      const loW = units.slice(0, loL).filter((u) => t.arg(u) >>> 3 === w).length;
      wu.slice(0, loW + (devMap.get(w) ?? 0)).forEach((u) => take.add(u));
    }
  }
  return naiveImage(t, base, (i) => take.has(i), upto);
}

const baseArb = fc.boolean().map((nonEmpty) => {
  if (!nonEmpty) return emptyImage(SIZE);
  const p = new Uint8Array(4096);
  for (let i = 0; i < 4096; i += 7) p[i] = (i * 13) & 0xff;
  return imageFromPages(SIZE, new Map([[1, p]]));
});

describe('PersistReplayer against the naive per-line-history reference', () => {
  for (const mode of ['line', 'word', 'eadr'] as const) {
    it(`lower, upper and random choices agree (${mode} mode)`, () => {
      fc.assert(
        fc.property(fc.array(evArb, { minLength: 1, maxLength: 60 }), baseArb, fc.nat(1000), fc.array(fc.nat(1000), { maxLength: 6 }), (evs, base, cut, picks) => {
          const t = buildTrace(evs, base);
          const upto = cut % (t.length + 1);
          const r = new PersistReplayer(t, mode);
          r.advanceTo(upto);
          // lower
          const lowerRef = naiveChoice(t, upto, mode, base, []);
          expect(bytesOf(r.stateImage([]))).toBe(bytesOf(lowerRef));
          expect(hashKey(r.stateHash([]))).toBe(hashKey(hashImage(lowerRef)));
          // upper = everything executed
          const up = r.upperDeviations();
          const upperRef = naiveImage(t, base, () => true, upto);
          expect(bytesOf(r.stateImage(up))).toBe(bytesOf(upperRef));
          expect(hashKey(r.stateHash(up))).toBe(hashKey(hashImage(upperRef)));
          // a random choice of deviations
          const ents = r.entities();
          const devMap = new Map<number, number>();
          for (let j = 0; j + 1 < picks.length && ents.length > 0; j += 2) {
            const e = (picks[j] % (ents.length / 2)) * 2;
            devMap.set(ents[e], 1 + (picks[j + 1] % ents[e + 1]));
          }
          const devs: Deviation[] = [...devMap].sort((a, b) => a[0] - b[0]);
          r.validateDeviations(devs);
          const ref = naiveChoice(t, upto, mode, base, devs);
          expect(bytesOf(r.stateImage(devs))).toBe(bytesOf(ref));
          expect(hashKey(r.stateHash(devs))).toBe(hashKey(hashImage(ref)));
        }),
        { numRuns: 300 },
      );
    });
  }

  it('raises() is true exactly when an event raises some lower bound', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 1, maxLength: 50 }), fc.constantFrom('line', 'word', 'eadr') as fc.Arbitrary<PersistencyMode>, (evs, mode) => {
        const t = buildTrace(evs, emptyImage(SIZE));
        const r = new PersistReplayer(t, mode);
        for (let i = 0; i < t.length; i++) {
          const before = naiveBounds(t, i, mode).lo;
          const after = naiveBounds(t, i + 1, mode).lo;
          const raised = [...after].some(([L, n]) => n > (before.get(L) ?? 0));
          expect(r.raises(i)).toBe(raised);
          r.step();
        }
      }),
      { numRuns: 200 },
    );
  });

  it('assumeBaseHash keeps the hashes of a replay that never hashes its base whole; positionsOnly tracks the same bounds; the store prefix is the upper image', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 1, maxLength: 50 }), baseArb, fc.constantFrom('line', 'word', 'eadr') as fc.Arbitrary<PersistencyMode>, fc.nat(1000), (evs, base, mode, cut) => {
        const t = buildTrace(evs, base);
        const upto = cut % (t.length + 1);
        const full = new PersistReplayer(t, mode);
        const assumed = new PersistReplayer(t, mode);
        assumed.assumeBaseHash(hashImage(base));
        const dry = new PersistReplayer(t, mode, true);
        for (let i = 0; i < upto; i++) {
          expect(dry.raises(i)).toBe(full.raises(i));
          dry.step();
          full.step();
          assumed.step();
        }
        expect(dry.entities()).toEqual(full.entities());
        const up = full.upperDeviations();
        expect(hashKey(assumed.lowerHash)).toBe(hashKey(hashImage(full.stateImage([]))));
        expect(hashKey(assumed.stateHash(up))).toBe(hashKey(hashImage(full.stateImage(up))));
        expect(() => dry.stateImage([])).toThrow(/positions-only/);
        // The store prefix is the upper image, and its hash follows from the base's.
        const pre = prefixImage(t, upto);
        expect(bytesOf(pre.image())).toBe(bytesOf(full.stateImage(up)));
        expect(hashKey(prefixHash(t, pre, hashImage(base)))).toBe(hashKey(hashImage(full.stateImage(up))));
        // prefixUnchanged (the nested check's shortcut) says exactly whether the prefix is the base.
        expect(prefixUnchanged(t, pre)).toBe(hashKey(hashImage(pre.image())) === hashKey(hashImage(base)));
      }),
      { numRuns: 200 },
    );
  });

  it('the store prefix over more than 64 lines (several slot buffers) is the upper image', () => {
    const base = emptyImage(4096 * 8);
    const t = new TraceRecorder(base);
    for (let i = 0; i < 150; i++) t.push(TraceKind.STORE8, 0, 1, ((i * 37) % 400) * 64 + 8 * (i % 8), i + 1, 0);
    const r = new PersistReplayer(t, 'line');
    r.advanceTo(t.length);
    const up = r.upperDeviations();
    const pre = prefixImage(t, t.length);
    expect(pre.lines.size).toBeGreaterThan(64);
    expect(bytesOf(pre.image())).toBe(bytesOf(r.stateImage(up)));
    expect(hashKey(prefixHash(t, pre, hashImage(base)))).toBe(hashKey(hashImage(r.stateImage(up))));
  });

  it('prefixUnchanged: stores that rewrite the base bytes leave the prefix the base, any other store does not', () => {
    const base = emptyImage(4096 * 2);
    const t = new TraceRecorder(base);
    t.push(TraceKind.STORE8, 0, 1, 64, 0, 0); // zero over zero
    t.push(TraceKind.STORE8, 0, 1, 4096 + 8, 7, 0); // 7 over zero
    t.push(TraceKind.STORE4, 0, 1, 4096 + 8, 0, 0); // back to zero
    expect(prefixUnchanged(t, prefixImage(t, 1))).toBe(true);
    expect(prefixUnchanged(t, prefixImage(t, 2))).toBe(false);
    expect(prefixUnchanged(t, prefixImage(t, 3))).toBe(true);
  });

  it('eADR: the image at each point is the program-order prefix of all units', () => {
    const evs: Ev[] = [
      { k: 'st', core: 0, line: 0, word: 0, size: 8, sub: 0, v: 5, nt: false },
      { k: 'st', core: 1, line: 0, word: 1, size: 8, sub: 0, v: 6, nt: false },
    ];
    const t = buildTrace(evs, emptyImage(SIZE));
    const r = new PersistReplayer(t, 'eadr');
    r.advanceTo(1);
    expect(r.entities()).toEqual([]);
    const page = r.stateImage([]).page(0)!;
    const words = new Uint32Array(page.buffer, page.byteOffset, 1024);
    expect(words[0]).toBe(5);
    expect(words[2]).toBe(0);
  });
});

describe('incremental dirty list and upper summary against per-point recomputation', () => {
  it('dirtyLineList, dirtyPairs and upperSummary (hash, box) equal the naive reference whenever asked (line mode)', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 1, maxLength: 80 }), baseArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 80 }), (evs, base, askAt) => {
        const t = buildTrace(evs, base);
        const r = new PersistReplayer(t, 'line');
        // Ask at a random subset of positions (the lazy structures catch up over any gap), always at the end.
        for (let i = 0; i <= t.length; i++) {
          if (i === t.length || askAt[i % askAt.length]) {
            const { W, lo } = naiveBounds(t, i, 'line');
            const pairs = [...W].map(([L, w]) => [L, w.length - (lo.get(L) ?? 0)] as [number, number]).filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
            expect(r.dirtyLineList()).toEqual(pairs.map(([L]) => L));
            expect(r.dirtyPairs()).toEqual(pairs);
            const up = r.upperSummary();
            expect(hashKey(up.hash)).toBe(hashKey(hashImage(naiveImage(t, base, () => true, i))));
            expect(up.box).toBe(pairs.reduce((b, [, n]) => b * BigInt(n + 1), 1n));
            // The lower hash, kept by raises that reuse the full deltas asked for here.
            expect(hashKey(r.lowerHash)).toBe(hashKey(hashImage(naiveChoice(t, i, 'line', base, []))));
          }
          if (i < t.length) r.step();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the box is exact as it crosses 2^53 both ways (dozens of dirty lines; boxNumber -1 exactly when beyond)', () => {
    // Many lines, mostly stores: the box climbs past 2^53 and flushes bring it back.
    const wide: fc.Arbitrary<Ev> = fc.oneof(
      { weight: 12, arbitrary: fc.record({ k: fc.constant('st' as const), core: fc.constant(0), line: fc.nat(89), word: fc.nat(7), size: fc.constant(8 as const), sub: fc.constant(0), v: fc.nat(0xffffffff), nt: fc.constant(false) }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('fl' as const), core: fc.constant(0), line: fc.nat(89), kind: fc.constantFrom(TraceKind.CLFLUSH, TraceKind.CLWB) as fc.Arbitrary<TraceKind.CLFLUSH | TraceKind.CLWB> }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('fence' as const), core: fc.constant(0) }) },
    );
    let crossed = 0;
    fc.assert(
      fc.property(fc.array(wide, { minLength: 50, maxLength: 300 }), fc.array(fc.nat(89), { minLength: 60, maxLength: 200 }), fc.nat(7), (evs, flushes, every) => {
        // Then a tail of clflushes that cleans most lines again.
        const tail: Ev[] = flushes.map((line) => ({ k: 'fl', core: 0, line, kind: TraceKind.CLFLUSH }));
        const t = buildTrace([...evs, ...tail], emptyImage(SIZE));
        const r = new PersistReplayer(t, 'line');
        let big = false;
        for (let i = 0; i <= t.length; i++) {
          if (i === t.length || i % (every + 1) === 0) {
            const { W, lo } = naiveBounds(t, i, 'line');
            let want = 1n;
            for (const [L, w] of W) want *= BigInt(w.length - (lo.get(L) ?? 0) + 1);
            const up = r.upperSummary();
            expect(up.box).toBe(want);
            expect(up.boxNumber).toBe(want <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(want) : -1);
            if (up.boxNumber < 0) big = true;
            else if (big) crossed++;
          }
          if (i < t.length) r.step();
        }
      }),
      { numRuns: 40 },
    );
    // Some runs went beyond 2^53 and came back below (both directions exercised).
    expect(crossed).toBeGreaterThan(0);
  });

  it('a replay that lists nothing until late (dirty lines cleaned and dirtied again meanwhile) lists them as one that lists at every step', () => {
    fc.assert(
      fc.property(fc.array(evArb, { minLength: 1, maxLength: 120 }), fc.nat(1000), (evs, cut) => {
        const t = buildTrace(evs, emptyImage(SIZE));
        const upto = cut % (t.length + 1);
        const eager = new PersistReplayer(t, 'line');
        const lazy = new PersistReplayer(t, 'line');
        for (let i = 0; i < upto; i++) {
          eager.step();
          void eager.dirtyLineList();
          if (i === upto >> 1) void lazy.upperSummary();
          lazy.step();
        }
        expect(lazy.dirtyLineList()).toEqual(eager.dirtyLineList());
        expect(lazy.entities()).toEqual(eager.entities());
        expect(hashKey(lazy.upperSummary().hash)).toBe(hashKey(eager.upperSummary().hash));
      }),
      { numRuns: 300 },
    );
  });
});
