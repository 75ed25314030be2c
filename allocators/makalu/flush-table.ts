/**
 * Flush tables (Makalu's add_to_flush_table / flush_all_entry).
 *
 * Model: a small direct-mapped table in DRAM of cache-line addresses waiting to be
 * written back. Adding a line whose slot holds another line evicts that one with a
 * clflush (synchronous, no fence); adding a line already present costs nothing more.
 * flushAll issues mfence, clflush of every held line, mfence. Used for the section's
 * dirty lines (sflush, 8 slots) and for the lazily persisted tier-2 metadata: mark
 * bits and header index (aflush 32, fl_aflush 8, a per-thread table of 8).
 *
 * Invariants: a slot holds 0 or a 64 B aligned NVRAM line address.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { LINE_BYTES } from './layout.ts';

export interface FlushTable {
  readonly base: Addr;
  readonly slots: number;
}

/** Queue the line(s) holding [addr, addr+sizeBytes) for a later write-back. */
export function tableAdd(core: Core, table: FlushTable, addr: Addr, sizeBytes = 8): void {
  const first = addr - (addr % LINE_BYTES);
  for (let line = first; line < addr + sizeBytes; line += LINE_BYTES) {
    const slot = table.base + 8 * ((line / LINE_BYTES) & (table.slots - 1));
    const held = core.load64(slot);
    if (held === line) continue;
    if (held !== 0) core.clflush(held);
    core.store64(slot, line);
  }
}

/** mfence, write back every queued line, mfence (flush_all_entry). */
export function tableFlushAll(core: Core, table: FlushTable): void {
  core.mfence();
  for (let i = 0; i < table.slots; i++) {
    const slot = table.base + 8 * i;
    const held = core.load64(slot);
    if (held === 0) continue;
    core.clflush(held);
    core.store64(slot, 0);
  }
  core.mfence();
}

/** Forget queued lines without writing them back (after a crash the table is gone anyway). */
export function tableClear(core: Core, table: FlushTable): void {
  for (let i = 0; i < table.slots; i++) core.store64(table.base + 8 * i, 0);
}

/** The store + mfence-clflush-mfence idiom (MAK_STORE_NVM_SYNC). */
export function storeSync(core: Core, addr: Addr, value: number): void {
  core.store64(addr, value);
  syncFlush(core, addr);
}

/** CLFLUSH_SYNC: mfence, clflush, mfence. */
export function syncFlush(core: Core, addr: Addr): void {
  core.mfence();
  core.clflush(addr);
  core.mfence();
}
