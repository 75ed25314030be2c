/**
 * A Michael-Scott queue (PODC'96) in simulated DRAM, built with core.cas64, for the
 * prod-con benchmark. Values are non-zero words (block addresses); 0 means "empty".
 *
 * Layout of one queue (all in DRAM, 64 B aligned): line 0 = head, line 1 = tail
 * (separate lines, as the original's alignas(CACHELINE)), line 2 = [free-stack top,
 * bump index], then a pool of `capacity` 16 B nodes [item, next]. Nodes come from the
 * free stack (a Treiber stack linked through `next`), else from the bump index; the
 * pool is the volatile `new Node` of the original, bounded: when it is exhausted,
 * `allocNode` returns 0 and the producer waits. The first node is the sentinel.
 *
 * Model notes: the scheduler never interleaves two operations at instruction level,
 * so every CAS here succeeds the first time and hazard pointers are unnecessary (their
 * cost is not modelled); the loops are still written as the lock-free algorithm so
 * that the loads, CASes and line transfers a real run issues are all charged.
 */
import type { Addr, Core, Machine } from '../../sim/api.ts';

const LINE = 64;
const NODE_BYTES = 16;
const HEAD = 0;
const TAIL = LINE;
const FREE_TOP = 2 * LINE;
const BUMP = 2 * LINE + 8;
const POOL = 3 * LINE;
const ITEM = 0;
const NEXT = 8;

export class MsQueue {
  private constructor(
    readonly base: Addr,
    readonly capacity: number,
  ) {}

  /** Reserve the queue in DRAM and install the sentinel (on `core`). */
  static create(machine: Machine, core: Core, capacity: number): MsQueue {
    const q = new MsQueue(machine.reserveDram(POOL + capacity * NODE_BYTES, LINE), capacity);
    const sentinel = q.base + POOL;
    core.store64(sentinel + NEXT, 0);
    core.store64(q.base + BUMP, 1);
    core.store64(q.base + FREE_TOP, 0);
    core.store64(q.base + HEAD, sentinel);
    core.store64(q.base + TAIL, sentinel);
    return q;
  }

  static bytesFor(capacity: number): number {
    return POOL + capacity * NODE_BYTES;
  }

  /** A free node, or 0 when the pool is exhausted. */
  allocNode(core: Core): Addr {
    for (;;) {
      const top = core.load64(this.base + FREE_TOP);
      if (top === 0) break;
      if (core.cas64(this.base + FREE_TOP, top, core.load64(top + NEXT))) return top;
    }
    const b = core.load64(this.base + BUMP);
    if (b >= this.capacity) return 0;
    core.store64(this.base + BUMP, b + 1);
    return this.base + POOL + b * NODE_BYTES;
  }

  private freeNode(core: Core, node: Addr): void {
    for (;;) {
      const top = core.load64(this.base + FREE_TOP);
      core.store64(node + NEXT, top);
      if (core.cas64(this.base + FREE_TOP, top, node)) return;
    }
  }

  /** Enqueue `value` (non-zero) in `node` (from allocNode). */
  enqueue(core: Core, node: Addr, value: number): void {
    core.store64(node + ITEM, value);
    core.store64(node + NEXT, 0);
    for (;;) {
      const tail = core.load64(this.base + TAIL);
      const next = core.load64(tail + NEXT);
      if (tail !== core.load64(this.base + TAIL)) continue;
      if (next === 0) {
        if (core.cas64(tail + NEXT, 0, node)) {
          core.cas64(this.base + TAIL, tail, node);
          return;
        }
      } else {
        core.cas64(this.base + TAIL, tail, next);
      }
    }
  }

  /** Dequeue a value, or 0 when the queue is empty. The old sentinel goes back to the pool. */
  dequeue(core: Core): number {
    for (;;) {
      const head = core.load64(this.base + HEAD);
      const tail = core.load64(this.base + TAIL);
      const next = core.load64(head + NEXT);
      if (head !== core.load64(this.base + HEAD)) continue;
      if (next === 0) return 0;
      if (head === tail) {
        core.cas64(this.base + TAIL, tail, next);
        continue;
      }
      const value = core.load64(next + ITEM);
      if (core.cas64(this.base + HEAD, head, next)) {
        this.freeNode(core, head);
        return value;
      }
    }
  }
}
