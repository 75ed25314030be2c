/**
 * Persistent singly linked chains of nodes [key, value, checksum, next] (32 B; a chain may
 * allocate bigger nodes, nodeBytes, whose bytes past the first 32 are left as allocated): the
 * building block of the list (one chain under root 0) and the hashmap (one chain per
 * bucket). Both publication idioms, and the verify walk.
 *
 * Publication protocols (the node's checksum covers key and value):
 * - malloc-then-link: insert = malloc, write the node, clwb its lines + sfence, then
 *   storeAtomic64 the head word and persist it. remove = persist pred.next := next,
 *   then free. update = a new node (as insert) swung into pred.next, then free the old.
 * - alloc-into: insert = mallocTo(head word) with an init that writes and clwbs the
 *   node. remove/update use the thread's retire slot (a root word): persist
 *   retire := node, unlink (remove) or mallocTo(pred.next) the replacement (update),
 *   then freeFrom(retire). So a node is reachable from some persistent root until the
 *   allocator frees it and clears the slot in one step: no leak window.
 *
 * Invariants: keys are unique in a chain; a walk that meets a node twice reports a
 * cycle; a node whose checksum does not match is reported and its key not counted.
 */
import type { Addr, Core } from '../../sim/api.ts';
import type { Allocator, Idiom } from '../../allocators/contract.ts';
import { mustMalloc, persistRange, publishWord, writeBackRange, WorkloadOutOfMemoryError } from './memory.ts';
import { checksum2, type Report } from './verify.ts';

export const NODE_BYTES = 32;
const KEY = 0;
const VALUE = 8;
const SUM = 16;
export const NEXT = 24;

export interface ChainEnv {
  readonly workload: string;
  readonly allocator: Allocator;
  readonly idiom: Idiom;
  /** This thread's retire slot (a root word), used by the alloc-into idiom. */
  readonly retireSlot: Addr;
  /** Bytes allocated per node (>= NODE_BYTES; default NODE_BYTES); only the first NODE_BYTES are written. */
  readonly nodeBytes?: number;
}

export function nodeChecksum(key: number, value: number): number {
  return checksum2(key, value);
}

function writeNode(core: Core, addr: Addr, key: number, value: number, next: Addr): void {
  core.store64(addr + KEY, key);
  core.store64(addr + VALUE, value);
  core.store64(addr + SUM, nodeChecksum(key, value));
  core.store64(addr + NEXT, next);
}

/** Allocate a node holding (key, value, next) and publish it at `dest`, in the env's idiom. */
function publishNode(env: ChainEnv, core: Core, dest: Addr, key: number, value: number, next: Addr): void {
  const size = env.nodeBytes ?? NODE_BYTES;
  if (env.idiom === 'malloc-then-link') {
    const n = mustMalloc(env.workload, env.allocator, core, size);
    writeNode(core, n, key, value, next);
    persistRange(core, n, NODE_BYTES);
    publishWord(core, dest, n);
    return;
  }
  const init = (c: Core, a: Addr): void => {
    writeNode(c, a, key, value, next);
    writeBackRange(c, a, NODE_BYTES);
  };
  if (env.allocator.mallocTo(core, size, dest, init) === 0) throw new WorkloadOutOfMemoryError(env.workload, core.id, size);
}

export function insertAtHead(env: ChainEnv, core: Core, head: Addr, key: number, value: number): void {
  publishNode(env, core, head, key, value, core.load64(head));
}

/** The word holding the pointer to the node with `key`, and that node. */
function find(env: ChainEnv, core: Core, head: Addr, key: number): { holder: Addr; node: Addr } {
  let holder = head;
  for (let node = core.load64(holder); node !== 0; node = core.load64(holder)) {
    if (core.load64(node + KEY) === key) return { holder, node };
    holder = node + NEXT;
  }
  throw new Error(`${env.workload}: key ${key} not found (the stream says it is present)`);
}

export function removeKey(env: ChainEnv, core: Core, head: Addr, key: number): void {
  const { holder, node } = find(env, core, head, key);
  const next = core.load64(node + NEXT);
  if (env.idiom === 'malloc-then-link') {
    publishWord(core, holder, next);
    env.allocator.free(core, node);
    return;
  }
  publishWord(core, env.retireSlot, node);
  publishWord(core, holder, next);
  env.allocator.freeFrom(core, env.retireSlot);
}

export function updateKey(env: ChainEnv, core: Core, head: Addr, key: number, value: number): void {
  const { holder, node } = find(env, core, head, key);
  const next = core.load64(node + NEXT);
  if (env.idiom === 'malloc-then-link') {
    publishNode(env, core, holder, key, value, next);
    env.allocator.free(core, node);
    return;
  }
  publishWord(core, env.retireSlot, node);
  publishNode(env, core, holder, key, value, next);
  env.allocator.freeFrom(core, env.retireSlot);
}

/**
 * Walk the chain whose head pointer is the word at `headHolder`. `check(key, node)`
 * may add structure-specific errors (e.g. a key in the wrong bucket).
 */
export function verifyChain(r: Report, headHolder: Addr, check?: (key: number, node: Addr) => void, nodeBytes = NODE_BYTES): void {
  let holder = headHolder;
  let ptr = r.read(holder, 'head pointer');
  while (ptr !== undefined && ptr !== 0) {
    if (!r.pointer(holder, ptr, nodeBytes) || !r.visit(holder, ptr, nodeBytes, 'chain')) return;
    const key = r.read(ptr + KEY, 'key');
    const value = r.read(ptr + VALUE, 'value');
    const sum = r.read(ptr + SUM, 'checksum');
    if (key === undefined || value === undefined || sum === undefined) return;
    if (sum !== nodeChecksum(key, value)) {
      r.error(ptr, `bad checksum in node 0x${ptr.toString(16)} (key ${key}, value ${value}): torn or corrupted node`);
    } else {
      r.key(key, ptr);
      check?.(key, ptr);
    }
    holder = ptr + NEXT;
    ptr = r.read(holder, 'next pointer');
  }
}

/** A retire slot: the node it holds (if any) is reachable, being freed; not part of the structure. */
export function verifyRetireSlot(r: Report, slot: Addr, nodeBytes = NODE_BYTES): void {
  const ptr = r.read(slot, 'retire slot');
  if (ptr === undefined || ptr === 0) return;
  if (r.pointer(slot, ptr, nodeBytes)) r.addAux(ptr, nodeBytes);
}
