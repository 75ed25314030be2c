/**
 * The global undo log of Makalu's failure-atomic sections (tier 1 metadata).
 *
 * Model: one log of 64 entries of 64 B (address, old value, version), used only under
 * the global lock. A logged store first writes its entry (address, old value, then the
 * current version) and makes it durable with mfence-clflush-mfence, then stores in
 * place and queues the line in the section flush table (sflush, 8 slots). An unlogged
 * store inside a section (a field whose old value is already logged or irrelevant)
 * only queues its line. Closing the section flushes the queued lines between two
 * fences and bumps the version with store + mfence-clflush-mfence. So a section with
 * k entries and d dirty lines costs 2k+4 fences and k+d+1 flushes.
 *
 * Recovery replays, in reverse, the entries carrying the current version (a prefix of
 * the log: entries are written in order), flushes each restored word, then bumps the
 * version durably. Each entry also carries a check word over (address, old value,
 * version) in the same line: a torn entry (possible under per-word persistency, P2w)
 * fails the check and ends the prefix; its in-place store cannot have happened, because
 * the store waits for the entry's clflush. (Makalu relies on the 64 B line being
 * written back whole; the check word adds no flush or fence.) Replay is idempotent, so a crash during replay is harmless.
 *
 * Invariants: at most 64 entries per section; outside a section no entry carries the
 * current version.
 */
import type { Addr, Core } from '../../sim/api.ts';
import { invariant } from '../../sim/errors.ts';
import type { Mk } from './context.ts';
import { SFLUSH_SLOTS } from './context.ts';
import { storeSync, tableAdd, tableClear, tableFlushAll, type FlushTable } from './flush-table.ts';
import { LE_ADDR, LE_CHECK, LE_OLD, LE_VERSION, LOG_ENTRIES, LOG_ENTRY_BYTES, SB_LOG_VERSION } from './layout.ts';

const sflush = (mk: Mk): FlushTable => ({ base: mk.dram.sflush, slots: SFLUSH_SLOTS });
const versionAddr = (mk: Mk): Addr => mk.nv.superblock + SB_LOG_VERSION;

/** MAK_START_NVM_ATOMIC: rewind the (volatile) log cursor. Caller holds the global lock. */
export function beginSection(mk: Mk, core: Core): void {
  core.store64(mk.dram.logCursor, 0);
}

/** Write a durable undo entry for the word at addr (its current value). */
export function logWord(mk: Mk, core: Core, addr: Addr): void {
  const i = core.load64(mk.dram.logCursor);
  invariant(i < LOG_ENTRIES, `makalu: undo log overflow (more than ${LOG_ENTRIES} entries in one section)`);
  mk.counts.logEntries++;
  const entry = mk.nv.log + i * LOG_ENTRY_BYTES;
  const old = core.load64(addr);
  const version = core.load64(versionAddr(mk));
  core.store64(entry + LE_ADDR, addr);
  core.store64(entry + LE_OLD, old);
  core.store64(entry + LE_VERSION, version);
  core.store64(entry + LE_CHECK, entryCheck(addr, old, version));
  core.mfence();
  core.clflush(entry);
  core.mfence();
  core.store64(mk.dram.logCursor, i + 1);
}

/** Logged store (MAK_STORE_NVM_WORD): log entry, store in place, queue the line. */
export function storeLogged(mk: Mk, core: Core, addr: Addr, value: number): void {
  logWord(mk, core, addr);
  core.store64(addr, value);
  tableAdd(core, sflush(mk), addr);
}

/** Unlogged store inside a section (MAK_NO_LOG_STORE_NVM): store, queue the line. */
export function storeNoLog(mk: Mk, core: Core, addr: Addr, value: number): void {
  core.store64(addr, value);
  tableAdd(core, sflush(mk), addr);
}

/** MAK_END_NVM_ATOMIC: flush the dirty lines between fences, bump the version durably. */
export function endSection(mk: Mk, core: Core): void {
  if (mk.variant.omitSectionFlush) {
    core.mfence();
    tableClear(core, sflush(mk));
    core.mfence();
  } else {
    tableFlushAll(core, sflush(mk));
  }
  const v = core.load64(versionAddr(mk));
  storeSync(core, versionAddr(mk), v + 1);
}

/** Undo the entries of the current version in reverse; returns how many were replayed. */
export function replayLog(mk: Mk, core: Core): number {
  const v = core.load64(versionAddr(mk));
  let n = 0;
  while (n < LOG_ENTRIES && entryValid(core, mk.nv.log + n * LOG_ENTRY_BYTES, v)) n++;
  for (let i = n - 1; i >= 0; i--) {
    const entry = mk.nv.log + i * LOG_ENTRY_BYTES;
    const addr = core.load64(entry + LE_ADDR);
    if (!isRestorable(mk, addr)) continue;
    core.store64(addr, core.load64(entry + LE_OLD));
    core.clflush(addr);
  }
  storeSync(core, versionAddr(mk), v + 1);
  return n;
}

function entryValid(core: Core, entry: Addr, version: number): boolean {
  if (core.load64(entry + LE_VERSION) !== version) return false;
  return core.load64(entry + LE_CHECK) === entryCheck(core.load64(entry + LE_ADDR), core.load64(entry + LE_OLD), version);
}

/** A 32-bit mix of the entry's three words (integer arithmetic only). */
export function entryCheck(addr: number, old: number, version: number): number {
  let h = 0x9e3779b9;
  for (const w of [addr, old, version]) {
    for (const part of [w >>> 0, Math.floor(w / 0x1_0000_0000)]) {
      h = Math.imul(h ^ part, 0x85ebca6b);
      h ^= h >>> 13;
    }
  }
  return (h >>> 0) + 1;
}

/** Log entries only ever name 8-byte words of the superblock or the header space. */
function isRestorable(mk: Mk, addr: Addr): boolean {
  return addr % 8 === 0 && addr >= mk.nv.superblock && addr < mk.nv.index;
}

/** Uncharged: how many entries carry the current version (0 outside a section). */
export function pendingEntries(mk: Mk, peek: (a: Addr) => number): number {
  const v = peek(versionAddr(mk));
  let n = 0;
  for (; n < LOG_ENTRIES; n++) {
    const e = mk.nv.log + n * LOG_ENTRY_BYTES;
    if (peek(e + LE_VERSION) !== v || peek(e + LE_CHECK) !== entryCheck(peek(e + LE_ADDR), peek(e + LE_OLD), v)) break;
  }
  return n;
}
