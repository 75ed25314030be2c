/**
 * The watchdog's view of plug-in code (activity.ts) and the CLI's exit-code mapping:
 * wrappers change no result and record the phase, the op and where an exception left
 * plug-in code; bad input is 1, usage 2, an interrupt 130, a bug 70 (stack only with
 * NVLAB_DEBUG=1).
 */
import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import bump from './fixtures/bump-allocator.ts';
import throwing from './fixtures/hostile/throwing-recovery.ts';
import { ACTIVITY_SLOTS, describeActivity, describeFault, installActivity, readActivity, watchFactory } from './activity.ts';
import { reportError } from './cli.ts';
import { UserError } from './errors.ts';
import { InterruptedError } from './runner.ts';
import { createMachine } from '../sim/machine.ts';
import { makeCostModel } from '../sim/cost-model.ts';

function machine() {
  return createMachine({ cores: 1, cost: makeCostModel('optane-adr', {}), dramSizeBytes: 4 << 20, nvramSizeBytes: 1 << 20, trace: false });
}

describe('activity wrappers', () => {
  it('are the identity until a buffer is installed, then record phases and faults without changing results', () => {
    expect(watchFactory(bump)).toBe(bump);
    const plainM = machine();
    const plain = bump.create(plainM);
    plain.format(plainM.core(0));
    const plainAddrs = [16, 32, 48].map((s) => plain.malloc(plainM.core(0), s));

    const sab = new SharedArrayBuffer(ACTIVITY_SLOTS * 4);
    installActivity(sab);
    const view = new Int32Array(sab);
    const watchedFactory = watchFactory(bump);
    expect(watchedFactory).not.toBe(bump);
    expect({ ...watchedFactory }.name).toBe('bump'); // a caller spreading the factory keeps its fields
    const m = machine();
    const a = watchedFactory.create(m);
    a.format(m.core(0));
    expect([16, 32, 48].map((s) => a.malloc(m.core(0), s))).toEqual(plainAddrs);
    expect(readActivity(view).phase).toBe('idle');
    const t = watchFactory(throwing).create(m);
    expect(() => t.open(m.core(0))).toThrow('log header unreadable');
    const act = readActivity(view);
    expect([act.phase, act.faultPhase, act.opensStarted]).toEqual(['idle', 'recovery (open)', 1]);
    expect(describeFault(act)).toBe('recovery (open) of recovered image #1');
    expect(describeActivity({ phase: 'malloc', thread: 1, opsStarted: 7, opensStarted: 0 })).toBe('malloc in op #7 (thread 1)');
    expect(describeActivity({ phase: 'recovery (open)', thread: 0, opsStarted: 40, opensStarted: 3 })).toBe('recovery (open) of recovered image #3');
  });
});

describe('exit codes', () => {
  const capture = (e: unknown) => {
    let err = '';
    const code = reportError(e, (s) => void (err += s));
    return { code, err };
  };

  it('bad input 1, usage 2, interrupt 130/143, a bug 70 with the stack only under NVLAB_DEBUG', () => {
    expect(capture(new UserError('cannot write x: ENOSPC')).code).toBe(1);
    expect(capture(new CommanderError(1, 'commander.invalidArgument', 'bad')).code).toBe(2);
    expect(capture(new InterruptedError('interrupted', 'SIGINT')).code).toBe(130);
    expect(capture(new InterruptedError('interrupted', 'SIGTERM')).code).toBe(143);
    const saved = process.env.NVLAB_DEBUG;
    try {
      delete process.env.NVLAB_DEBUG;
      const bug = capture(new TypeError('x is undefined'));
      expect(bug.code).toBe(70);
      expect(bug.err).toBe('nvlab: internal error: x is undefined\n(set NVLAB_DEBUG=1 for the stack trace)\n');
      process.env.NVLAB_DEBUG = '1';
      expect(capture(new TypeError('x is undefined')).err).toMatch(/internal error: x is undefined\nTypeError: x is undefined\n\s+at /);
    } finally {
      if (saved === undefined) delete process.env.NVLAB_DEBUG;
      else process.env.NVLAB_DEBUG = saved;
    }
  });
});
