/**
 * Which lock each Makalu path holds, over which work (small.ts header; the released code:
 * HewlettPackard/Atlas branch makalu, commit d4fd983, makalu_alloc/src).
 *
 * Method: the core's lock, unlock and store64 are wrapped to log events; each test runs
 * one call on a prepared heap and checks which stores fall inside which lock holds.
 */
import { describe, expect, it } from 'vitest';
import type { Addr, Core } from '../../sim/api.ts';
import { granLock } from './context.ts';
import { factories } from './index.ts';
import { BLOCK_BYTES } from './layout.ts';
import type { MakaluAllocator } from './makalu.ts';
import { objectsPerBlock } from './size-classes.ts';
import { TRUNCATE_TABLE_ENTRIES } from './small.ts';
import { MiB, newMachine } from './test-helpers.ts';

type Event = { kind: 'lock' | 'unlock'; addr: Addr } | { kind: 'store'; addr: Addr; held: readonly Addr[] };

/** Log the core's lock, unlock and store64 calls (stores with the locks held at that moment). */
function record(core: Core): { events: Event[]; stop: () => void } {
  const events: Event[] = [];
  const held: Addr[] = [];
  const c = core as unknown as Partial<Record<'lock' | 'unlock' | 'store64', (...args: number[]) => void>>;
  const orig = { lock: c.lock!, unlock: c.unlock!, store64: c.store64! };
  c.lock = (addr: number) => { orig.lock.call(core, addr); held.push(addr); events.push({ kind: 'lock', addr }); };
  c.unlock = (addr: number) => { orig.unlock.call(core, addr); held.splice(held.indexOf(addr), 1); events.push({ kind: 'unlock', addr }); };
  c.store64 = (addr: number, value: number) => { orig.store64.call(core, addr, value); events.push({ kind: 'store', addr, held: [...held] }); };
  return { events, stop: () => { delete c.lock; delete c.unlock; delete c.store64; } };
}

const locksOf = (events: Event[], addr: Addr): number => events.filter((e) => e.kind === 'lock' && e.addr === addr).length;

function setup(): { a: MakaluAllocator; core: Core; m: ReturnType<typeof newMachine> } {
  const m = newMachine(32 * MiB);
  const a = factories.find((f) => f.name === 'makalu')!.create(m) as MakaluAllocator;
  const core = m.core(0);
  a.format(core);
  return { a, core, m };
}

/** malloc(64) `n` times, grouped by block (block address -> objects). */
function allocByBlock(a: MakaluAllocator, core: Core, n: number): Map<Addr, Addr[]> {
  const byBlock = new Map<Addr, Addr[]>();
  for (let i = 0; i < n; i++) {
    const p = a.malloc(core, 64);
    const b = p - (p % BLOCK_BYTES);
    byBlock.set(b, [...(byBlock.get(b) ?? []), p]);
  }
  return byBlock;
}

const G64 = 4;
const PER_BLOCK = objectsPerBlock(G64);

describe('makalu locking follows the released code', () => {
  it('a thread-list overflow returns objects of three blocks in one hold of the size lock (remove_trun_tb_entry)', () => {
    const { a, core, m } = setup();
    const blocks = [...allocByBlock(a, core, 3 * PER_BLOCK).values()];
    expect(blocks.length).toBe(3);
    // Interleave the three blocks: the 128th free trims the 64 oldest, ~21 from each block, none emptied.
    const order = Array.from({ length: PER_BLOCK }, (_, i) => blocks.map((b) => b[i])).flat();
    const cap = 2 * PER_BLOCK;
    for (let i = 0; i < cap - 1; i++) a.free(core, order[i]);
    const r = record(core);
    a.free(core, order[cap - 1]);
    r.stop();
    expect(locksOf(r.events, granLock(a.mk, G64))).toBe(1);
    expect(locksOf(r.events, a.mk.dram.globalLock)).toBe(0);
    expect(a.checkConsistency(m).errors).toEqual([]);
  });

  it('a truncate-table collision (blocks 16 apart) returns the evicted block at once: one hold per alternation', () => {
    const { a, core, m } = setup();
    const byBlock = allocByBlock(a, core, (TRUNCATE_TABLE_ENTRIES + 1) * PER_BLOCK);
    const slot = (b: Addr) => (b / BLOCK_BYTES) % TRUNCATE_TABLE_ENTRIES;
    const [x, y] = [...byBlock.keys()].filter((b, _, all) => all.some((o) => o !== b && slot(o) === slot(b)));
    expect(slot(x)).toBe(slot(y));
    // Alternate the two colliding blocks: every object of the trimmed half evicts the other block's entry.
    const order = Array.from({ length: PER_BLOCK }, (_, i) => [byBlock.get(x)![i], byBlock.get(y)![i]]).flat();
    for (let i = 0; i < order.length - 1; i++) a.free(core, order[i]);
    const r = record(core);
    a.free(core, order[order.length - 1]);
    r.stop();
    expect(locksOf(r.events, granLock(a.mk, G64))).toBe(PER_BLOCK);
    expect(a.checkConsistency(m).errors).toEqual([]);
  });

  it('a refill from a reclaim-list block holds the size lock for the unlink and the bits only; the sweep neither zeroes nor runs under a lock', () => {
    const { a, core, m } = setup();
    const blocks = [...allocByBlock(a, core, 3 * PER_BLOCK).values()];
    const order = Array.from({ length: PER_BLOCK }, (_, i) => blocks.map((b) => b[i])).flat();
    for (let i = 0; i < 2 * PER_BLOCK; i++) a.free(core, order[i]); // one trim: three blocks join the reclaim list
    const tl = a.mk.dram.tlLists[core.id][G64];
    for (let i = 0; i < PER_BLOCK; i++) a.malloc(core, 64); // empty the thread list
    const r = record(core);
    const p = a.malloc(core, 64);
    r.stop();
    expect(blocks.some((b) => b[0] - (b[0] % BLOCK_BYTES) === p - (p % BLOCK_BYTES))).toBe(true);
    expect(locksOf(r.events, granLock(a.mk, G64))).toBe(1);
    expect(locksOf(r.events, a.mk.dram.globalLock)).toBe(0);
    const stores = r.events.filter((e): e is Extract<Event, { kind: 'store' }> => e.kind === 'store');
    const heapStart = a.mk.nv.heapStart;
    expect(stores.filter((s) => s.addr >= heapStart)).toEqual([]); // no zeroing of reclaimed slots
    const listStores = stores.filter((s) => s.addr >= tl.addr && s.addr < tl.addr + 16 + 8 * tl.capacity);
    expect(listStores.length).toBeGreaterThan(1);
    expect(listStores.every((s) => s.held.length === 0)).toBe(true);
    expect(a.checkConsistency(m).errors).toEqual([]);
  });

  it('a thread-list refill from a new block holds the global lock for the block allocation only, never the zeroing', () => {
    const { a, core } = setup();
    const r = record(core);
    const p = a.malloc(core, 64);
    r.stop();
    const body = r.events.filter((e) => e.kind === 'store' && e.addr >= p - (p % BLOCK_BYTES) && e.addr < p - (p % BLOCK_BYTES) + BLOCK_BYTES);
    expect(body.length).toBe(BLOCK_BYTES / 8);
    expect(body.every((e) => e.kind === 'store' && e.held.length === 0)).toBe(true);
  });

  it('above 24 granules a new block is built (zeroed) under the global lock inside the shared size lock (MAK_new_hblk)', () => {
    const { a, core } = setup();
    const r = record(core);
    const p = a.malloc(core, 400);
    r.stop();
    const blockStart = p - (p % BLOCK_BYTES);
    const body = r.events.filter((e) => e.kind === 'store' && e.addr >= blockStart && e.addr < blockStart + BLOCK_BYTES);
    expect(body.length).toBe(BLOCK_BYTES / 8);
    const both = [a.mk.dram.sharedLock, a.mk.dram.globalLock];
    expect(body.every((e) => e.kind === 'store' && both.every((l) => e.held.includes(l)))).toBe(true);
  });
});
