/**
 * The write-back queue alone: pipelined completions (rule 3), the fence wait (rule 5),
 * clflush's own wait (rule 4), evictions that nobody waits for (rule 8), the XPBuffer's
 * read-modify-write, and reset.
 */
import { describe, expect, it } from 'vitest';
import { makeCostModel } from './cost-model.ts';
import { zeroCounters } from './counters.ts';
import { WriteBackQueue } from './writeback-queue.ts';
import { MediaWriter } from './xpbuffer.ts';

const NVM_FIRST_LINE = 1 << 24;

function queue(xpBuffer = false) {
  const cost = makeCostModel('optane-adr', { xpBufferEnabled: xpBuffer ? 1 : 0 });
  const counters = zeroCounters();
  return { q: new WriteBackQueue(cost, new MediaWriter(cost), counters, NVM_FIRST_LINE), counters };
}

describe('WriteBackQueue', () => {
  it('completes k back-to-back NVM write-backs 137, 195, 253, ... cycles after issue; a fence waits for the last', () => {
    const { q, counters } = queue();
    for (let k = 0; k < 4; k++) q.queueExplicit(NVM_FIRST_LINE + k, 1000);
    expect(q.pendingDoneCycles()).toBe(1000 + 137 + 3 * 58);
    expect(q.fenceCycles(1003, 5)).toBe(137 + 3 * 58 - 3);
    expect(q.pendingDoneCycles()).toBe(-1);
    expect(q.fenceCycles(2000, 5)).toBe(5); // nothing outstanding: the base cost
    expect(counters.explicitWriteBacks).toBe(4);
    expect(counters.nvmBytesWritten).toBe(4 * 64);
  });

  it('charges DRAM lines the DRAM latency and no media bytes', () => {
    const { q, counters } = queue();
    expect(q.writeBackNow(5, 100)).toBe(100 + 126);
    expect(counters.nvmBytesWritten).toBe(0);
    expect(q.pendingDoneCycles()).toBe(-1); // clflush's write-back is waited for by its issuer, not by a fence
  });

  it('lets evictions take queue slots without making a fence wait', () => {
    const { q, counters } = queue();
    q.queueEviction(NVM_FIRST_LINE, 0);
    q.queueEviction(NVM_FIRST_LINE + 1, 0);
    expect(q.fenceCycles(10, 5)).toBe(5);
    // The next explicit write-back queues behind them: 137 + 58 (second eviction) + 58.
    q.queueExplicit(NVM_FIRST_LINE + 2, 0);
    expect(q.pendingDoneCycles()).toBe(137 + 2 * 58);
    expect(counters.evictionWriteBacks).toBe(2);
  });

  it('adds the XPBuffer read-modify-write to latency and spacing for scattered lines, not for the same XPLine', () => {
    const { q } = queue(true);
    const miss = makeCostModel('optane-adr').xpBufferMissCycles;
    q.queueExplicit(NVM_FIRST_LINE, 0);
    expect(q.pendingDoneCycles()).toBe(137 + miss);
    q.queueExplicit(NVM_FIRST_LINE + 1, 0); // same 256 B XPLine: merges
    expect(q.pendingDoneCycles()).toBe(137 + miss + 58);
    q.queueExplicit(NVM_FIRST_LINE + 64, 0); // another XPLine: read-modify-write again
    expect(q.pendingDoneCycles()).toBe(137 + miss + 58 + 58 + miss);
  });

  it('forgets everything on reset', () => {
    const { q } = queue();
    q.queueExplicit(NVM_FIRST_LINE, 0);
    q.reset();
    expect(q.pendingDoneCycles()).toBe(-1);
    q.queueExplicit(NVM_FIRST_LINE, 0);
    expect(q.pendingDoneCycles()).toBe(137);
  });
});
