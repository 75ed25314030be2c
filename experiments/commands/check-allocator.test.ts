/**
 * `check-allocator`'s crash part (crashCheck) with its default exploration: the two
 * ordering-bug fixtures are flagged with a counterexample naming the missing fence or
 * the torn word (store sites), lower and upper images alone miss them, and the correct
 * plug-in examples give no invalid state.
 */
import { describe, expect, it } from 'vitest';
import type { AllocatorFactory } from '../../allocators/contract.ts';
import { crashCheck } from './check-allocator.ts';
import bump from '../fixtures/bump-allocator.ts';
import loggedBump from '../fixtures/logged-bump-allocator.ts';
import publishNofence from '../fixtures/publish-nofence-allocator.ts';
import tornLog from '../fixtures/torn-log-allocator.ts';

/** crashCheck's verdict and text for one idiom (keeps the test short). */
function check(f: AllocatorFactory): { ok: boolean; text: string } {
  let text = '';
  const ok = crashCheck({ ...f, idioms: ['malloc-then-link'] }, 'list', (s) => (text += s));
  return { ok, text };
}

const line = (text: string, prefix: string): string => text.split('\n').find((l) => l.startsWith(prefix)) ?? '';

describe('check-allocator default crash exploration', () => {
  it('flags a header flushed but not fenced before the publishing store, naming the missing fence', () => {
    const { ok, text } = check(publishNofence);
    expect(ok).toBe(false);
    expect(line(text, 'crash list malloc-then-link line lower')).toMatch(/ 0 invalid/);
    expect(line(text, 'crash list malloc-then-link line upper')).toMatch(/ 0 invalid/);
    expect(line(text, 'crash list malloc-then-link line k-subsets')).toMatch(/ [1-9]\d* invalid/);
    expect(text).toMatch(/logged-bump:write-header .* but no fence of core 0 ordered it before the store at 0x[0-9a-f]+ #\d+ \(logged-bump:publish-bump/);
    expect(text).toMatch(/^crash coverage: line lower, line upper, line k-subsets \(k=2\), word k-subsets \(k=2\); 1 idiom\(s\); \d+ distinct states checked/m);
  }, 300_000);

  it('flags a multi-word log entry that can tear, naming the torn word', () => {
    const { ok, text } = check(tornLog);
    expect(ok).toBe(false);
    expect(line(text, 'crash list malloc-then-link line k-subsets')).toMatch(/ 0 invalid/);
    expect(line(text, 'crash list malloc-then-link word k-subsets')).toMatch(/ [1-9]\d* invalid/);
    expect(text).toMatch(/logged-bump:log-new-bump .* before the store at 0x[0-9a-f]+ #\d+ \(logged-bump:log-valid, .*\) became durable \(same 64 B line: in word mode/);
  }, 300_000);

  it('passes the correct plug-in example', () => {
    const { ok, text } = check(loggedBump);
    expect(text).not.toMatch(/ [1-9]\d* invalid/);
    expect(text).toMatch(/word k-subsets \(k=2\): [1-9]\d* states/);
    expect(ok).toBe(true);
  }, 300_000);

  it('bump-allocator.ts: its heap walk lists no allocated extent, so reachable blocks are flagged in every mode (as before the default grew)', () => {
    const { text } = check(bump);
    expect(line(text, 'crash list malloc-then-link line lower')).toMatch(/ [1-9]\d* invalid/);
    expect(text).toMatch(/lies in no allocated extent/);
  }, 300_000);
});
