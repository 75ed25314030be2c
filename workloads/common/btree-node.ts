/**
 * The persistent node of the copy-on-write B+tree, and its verify walk.
 *
 * Layout (8-byte words, B = maxKeys): [meta, checksum, keys[B], slots[B+1]], so every
 * node is (3 + 2B) x 8 bytes. meta = kind x 256 + count, kind 1 = leaf (count keys,
 * slots hold their values), kind 2 = internal (count children in slots, count - 1
 * separator keys). Child j of an internal node covers keys in [keys[j-1], keys[j]).
 * The checksum covers meta and the used keys and slots. Nodes are immutable once
 * published (copy-on-write), so a node whose checksum fails is torn or corrupted.
 *
 * verify invariants: checksums; meta sane; keys strictly ascending and inside the
 * bounds the parent gives; no null child; all leaves at one depth; no node reached
 * twice (cycle or sharing inside the tree).
 */
import type { Addr, Core } from '../../sim/api.ts';
import { checksum, type Report } from './verify.ts';

export const LEAF = 1;
export const INTERNAL = 2;

/** A node as the operation holds it in registers: slots = values (leaf) or children. */
export interface BNode {
  readonly kind: number;
  readonly keys: number[];
  readonly slots: number[];
}

export function nodeBytes(maxKeys: number): number {
  return (3 + 2 * maxKeys) * 8;
}

export function keyAddr(node: Addr, i: number): Addr {
  return node + (2 + i) * 8;
}

export function slotAddr(node: Addr, maxKeys: number, j: number): Addr {
  return node + (2 + maxKeys + j) * 8;
}

function meta(n: BNode): number {
  return n.kind * 256 + n.slots.length;
}

export function bnodeChecksum(n: BNode): number {
  return checksum([meta(n), ...n.keys, ...n.slots]);
}

/** Charged read of a whole node (the op copies it). */
export function readNode(core: Core, addr: Addr, maxKeys: number): BNode {
  const m = core.load64(addr);
  const kind = Math.floor(m / 256);
  const count = m % 256;
  const nKeys = kind === LEAF ? count : count - 1;
  const keys: number[] = [];
  for (let i = 0; i < nKeys; i++) keys.push(core.load64(keyAddr(addr, i)));
  const slots: number[] = [];
  for (let j = 0; j < count; j++) slots.push(core.load64(slotAddr(addr, maxKeys, j)));
  return { kind, keys, slots };
}

/**
 * Store the node's used words, its checksum, and zeros in the unused slots (no flush).
 * Zeroing the unused slots matters: a freshly allocated block may hold stale pointers,
 * and a conservative recovery GC (Makalu, Ralloc) would keep their targets alive.
 */
export function writeNode(core: Core, addr: Addr, n: BNode, maxKeys: number): void {
  core.store64(addr, meta(n));
  core.store64(addr + 8, bnodeChecksum(n));
  n.keys.forEach((k, i) => core.store64(keyAddr(addr, i), k));
  n.slots.forEach((s, j) => core.store64(slotAddr(addr, maxKeys, j), s));
  for (let j = n.slots.length; j <= maxKeys; j++) core.store64(slotAddr(addr, maxKeys, j), 0);
}

interface Bounds {
  readonly lo: number;
  readonly hi: number;
}

/** Read a node for verify; undefined (with an error) if unreadable or malformed. */
function peekNode(r: Report, addr: Addr, maxKeys: number): BNode | undefined {
  const m = r.read(addr, 'node meta');
  if (m === undefined) return undefined;
  const kind = Math.floor(m / 256);
  const count = m % 256;
  const okCount = kind === LEAF ? count >= 1 && count <= maxKeys : kind === INTERNAL && count >= 1 && count <= maxKeys + 1;
  if (!okCount) {
    r.error(addr, `malformed node 0x${addr.toString(16)}: meta ${m} (kind ${kind}, count ${count})`);
    return undefined;
  }
  const keys: number[] = [];
  for (let i = 0; i < (kind === LEAF ? count : count - 1); i++) {
    const k = r.read(keyAddr(addr, i), 'key');
    if (k === undefined) return undefined;
    keys.push(k);
  }
  const slots: number[] = [];
  for (let j = 0; j < count; j++) {
    const s = r.read(slotAddr(addr, maxKeys, j), 'slot');
    if (s === undefined) return undefined;
    slots.push(s);
  }
  return { kind, keys, slots };
}

function checkKeys(r: Report, addr: Addr, n: BNode, b: Bounds): boolean {
  for (let i = 0; i < n.keys.length; i++) {
    const k = n.keys[i];
    if (k < b.lo || k >= b.hi || (i > 0 && k <= n.keys[i - 1])) {
      r.error(addr, `node 0x${addr.toString(16)}: key ${k} out of order or outside [${b.lo}, ${b.hi})`);
      return false;
    }
  }
  return true;
}

/** Walks the tree from one root, collecting keys; `leafDepth` is shared across the walk. */
export class TreeWalk {
  private leafDepth = -1;
  constructor(
    private readonly r: Report,
    private readonly maxKeys: number,
  ) {}

  walk(holder: Addr, ptr: number, b: Bounds, depth: number): void {
    const size = nodeBytes(this.maxKeys);
    if (!this.r.pointer(holder, ptr, size) || !this.r.visit(holder, ptr, size, 'tree')) return;
    const n = peekNode(this.r, ptr, this.maxKeys);
    if (n === undefined) return;
    const sum = this.r.read(ptr + 8, 'checksum');
    if (sum !== bnodeChecksum(n)) {
      this.r.error(ptr, `bad checksum in node 0x${ptr.toString(16)}: torn or corrupted node`);
      return;
    }
    if (!checkKeys(this.r, ptr, n, b)) return;
    if (n.kind === LEAF) return this.leaf(ptr, n, depth);
    for (let j = 0; j < n.slots.length; j++) {
      const at = slotAddr(ptr, this.maxKeys, j);
      if (n.slots[j] === 0) {
        this.r.error(at, `null child ${j} of node 0x${ptr.toString(16)}`);
        continue;
      }
      this.walk(at, n.slots[j], { lo: j === 0 ? b.lo : n.keys[j - 1], hi: j === n.keys.length ? b.hi : n.keys[j] }, depth + 1);
    }
  }

  private leaf(ptr: Addr, n: BNode, depth: number): void {
    if (this.leafDepth === -1) this.leafDepth = depth;
    else if (depth !== this.leafDepth) this.r.error(ptr, `leaf 0x${ptr.toString(16)} at depth ${depth}, others at ${this.leafDepth}`);
    for (const k of n.keys) this.r.key(k, ptr);
  }

  /** A pending or retired path (auxiliary root): reachable objects only, no checks beyond pointers. */
  walkAux(holder: Addr, ptr: number): void {
    const size = nodeBytes(this.maxKeys);
    if (!this.r.pointer(holder, ptr, size) || !this.r.addAux(ptr, size)) return;
    const m = this.r.read(ptr, 'node meta');
    if (m === undefined || Math.floor(m / 256) !== INTERNAL) return;
    const count = Math.min(m % 256, this.maxKeys + 1);
    for (let j = 0; j < count; j++) {
      const at = slotAddr(ptr, this.maxKeys, j);
      const child = this.r.read(at, 'child');
      if (child !== undefined && child !== 0) this.walkAux(at, child);
    }
  }
}
