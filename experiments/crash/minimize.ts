/**
 * Minimization and explanation of a failing crash state.
 *
 * Model: delta debugging (ddmin) over the state's deviations from the lower image
 * gives a 1-minimal set D of lines (words) whose early persistence is needed for the
 * failure ("persisted-early"); each kept deviation is then shrunk to its shortest
 * failing prefix. Then, toward the upper image, ddmin over the other choosable lines
 * finds a minimal set F whose persistence makes the state pass ("not-persisted": the
 * stores whose persistence matters). For each store of F the trace tells what is
 * missing: no flush of its line after it, or a clwb/clflushopt with no fence of that
 * core before the crash (or before the early store of D). Every test is a full check
 * (checkImage) of the candidate image at the same crash point; the number of tests
 * is bounded.
 *
 * Invariants: the replayer stays at the failing state's position; the result only
 * depends on the state and the job (deterministic).
 */
import { NVRAM_BASE } from '../../sim/machine.ts';
import { TraceKind, siteName, type PersistTrace } from '../../sim/api.ts';
import type { PersistReplayer, Deviation } from '../../sim/persistency/replay.ts';
import type { Anomaly, CulpritStore } from './api.ts';
import type { CheckOptions, CheckOutcome } from './check.ts';
import { checkImage } from './check.ts';
import type { JobContext } from './job.ts';

const MAX_TESTS = 160;

export interface Minimized {
  readonly devs: Deviation[];
  readonly stores: CulpritStore[];
  readonly explanation: string[];
}

/** Classic ddmin: a 1-minimal subset of `items` for which `fails` holds (fails(items) assumed). */
export function ddmin<T>(items: readonly T[], fails: (s: readonly T[]) => boolean, budget: { left: number }): T[] {
  let cur = items.slice();
  let n = 2;
  while (cur.length >= 2 && budget.left > 0) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < n && budget.left > 0; i++) {
      const part = cur.slice(i * chunk, (i + 1) * chunk);
      const rest = cur.slice(0, i * chunk).concat(cur.slice((i + 1) * chunk));
      if (part.length > 0 && part.length < cur.length) {
        budget.left--;
        if (fails(part)) { cur = part; n = 2; reduced = true; break; }
      }
      if (n > 2 && rest.length > 0 && budget.left > 0) {
        budget.left--;
        if (fails(rest)) { cur = rest; n = Math.max(n - 1, 2); reduced = true; break; }
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  if (cur.length === 1 && budget.left > 0) {
    budget.left--;
    if (fails([])) return [];
  }
  return cur;
}

function sortDevs(d: readonly Deviation[]): Deviation[] {
  return d.slice().sort((a, b) => a[0] - b[0]);
}

/** The op that issued trace event ev: 't<thread>#<op> <kind>' or 'setup'. */
export function opAt(ctx: JobContext, trace: PersistTrace, ev: number): string {
  const core = trace.core(ev);
  for (let i = ev - 1; i >= 0; i--) {
    if (trace.core(i) !== core) continue;
    const k = trace.kind(i);
    if (k === TraceKind.OP_BEGIN) {
      const t = trace.valueLo(i);
      const op = trace.arg(i);
      return `t${t}#${op} ${ctx.run.streams[t]?.[op]?.kind ?? ''}`.trim();
    }
    if (k === TraceKind.OP_END) break;
  }
  return ev < ctx.run.setupTraceLength ? 'setup' : 'between ops';
}

function describeEvent(ctx: JobContext, trace: PersistTrace, ev: number): string {
  return `#${ev} (${siteName(trace.site(ev))}, op ${opAt(ctx, trace, ev)})`;
}

function storeAddr(trace: PersistTrace, ev: number): string {
  return `0x${(NVRAM_BASE + trace.arg(ev)).toString(16)}`;
}

function isFlush(k: TraceKind): boolean {
  return k === TraceKind.CLWB || k === TraceKind.CLFLUSHOPT || k === TraceKind.CLFLUSH;
}
function flushName(k: TraceKind): string {
  return k === TraceKind.CLWB ? 'clwb' : k === TraceKind.CLFLUSH ? 'clflush' : 'clflushopt';
}

/**
 * What is missing for the store `ev` (line `line`) to be durable in time. `earlyEv` is
 * a store that became durable while `ev` was not (or -1: the failure shows in the
 * lower image, so the deadline is the first fence of the core that made other flushed
 * lines durable after `ev`).
 */
function missingFor(ctx: JobContext, trace: PersistTrace, ev: number, line: number, until: number, earlyEv: number): string {
  const core = trace.core(ev);
  const lineAddr = `0x${(NVRAM_BASE + line * 64).toString(16)}`;
  let flush = -1;
  for (let i = ev + 1; i < until && flush < 0; i++) if (isFlush(trace.kind(i)) && trace.arg(i) === line) flush = i;
  if (earlyEv >= 0) {
    const sameLine = trace.arg(earlyEv) >>> 6 === line ? ' (same 64 B line: in word mode its write-back is not atomic, so words persist in any order)' : '';
    const early = `the store at ${storeAddr(trace, earlyEv)} ${describeEvent(ctx, trace, earlyEv)} became durable${sameLine}`;
    if (ev > earlyEv) return `issued only after the store at ${storeAddr(trace, earlyEv)} ${describeEvent(ctx, trace, earlyEv)}, which can become durable first: no flush or fence can order them, the earlier store is issued too early${sameLine}`;
    if (flush < 0 || flush > earlyEv) return `not flushed (no clwb/clflushopt/clflush of line ${lineAddr} after it) before ${early}`;
    return `flushed by ${flushName(trace.kind(flush))} at ${describeEvent(ctx, trace, flush)} but no fence of core ${trace.core(flush)} ordered it before ${early}`;
  }
  let fence = -1;
  let otherFlush = false;
  for (let i = ev + 1; i < until && fence < 0; i++) {
    const k = trace.kind(i);
    if ((isFlush(k) && trace.arg(i) !== line) || k === TraceKind.NTSTORE8) otherFlush = true;
    if (k === TraceKind.FENCE && trace.core(i) === core && otherFlush) fence = i;
  }
  if (fence >= 0 && (flush < 0 || flush > fence)) {
    const late = flush >= 0 ? `; its line was first flushed only at ${describeEvent(ctx, trace, flush)}` : '';
    return `not flushed (no clwb/clflushopt/clflush of line ${lineAddr} after it) before the fence at ${describeEvent(ctx, trace, fence)}${late}`;
  }
  if (flush < 0) return `not flushed (no clwb/clflushopt/clflush of line ${lineAddr} after it) before the crash point #${until}`;
  return `flushed by ${flushName(trace.kind(flush))} at ${describeEvent(ctx, trace, flush)} but no fence of core ${trace.core(flush)} followed before the crash point #${until}`;
}

export function minimizeState(ctx: JobContext, r: PersistReplayer, devs: readonly Deviation[], anomaly: Anomaly, opts: CheckOptions): Minimized {
  const budget = { left: MAX_TESTS };
  const test = (d: readonly Deviation[]): CheckOutcome => checkImage(ctx, r.stateImage(sortDevs(d)), opts);
  const fails = (d: readonly Deviation[]): boolean => {
    const o = test(d);
    return o.verdict === 'invalid' && o.anomaly === anomaly;
  };
  // 1. toward lower: minimal set of early-persisted deviations.
  let D = ddmin(sortDevs(devs), fails, budget);
  D = D.map((dev, i) => {
    for (let x = 1; x < dev[1] && budget.left > 0; x++) {
      budget.left--;
      const trial = D.slice();
      trial[i] = [dev[0], x];
      if (fails(trial)) return [dev[0], x] as const;
    }
    return dev;
  });
  D = sortDevs(D);
  // 2. toward upper: minimal set of other entities whose persistence makes the state pass.
  const inD = new Set(D.map((d) => d[0]));
  const ents = r.entities();
  const others: Deviation[] = [];
  for (let j = 0; j < ents.length; j += 2) if (!inD.has(ents[j])) others.push([ents[j], ents[j + 1]]);
  const passes = (f: readonly Deviation[]): boolean => test(D.concat(f)).verdict === 'valid';
  let F: Deviation[] | undefined;
  budget.left--;
  if (others.length > 0 && passes(others)) F = ddmin(others, passes, budget);
  return explain(ctx, r, D, F);
}

function explain(ctx: JobContext, r: PersistReplayer, D: Deviation[], F: Deviation[] | undefined): Minimized {
  const trace = r.trace;
  const until = r.pos;
  const stores: CulpritStore[] = [];
  const lines: string[] = [];
  const unitsOf = (entity: number): number[] => r.pendingUnits(r.entityLine(entity)).filter((ev) => r.mode !== 'word' || trace.arg(ev) >>> 3 === entity);
  let earlyEv = -1;
  for (const [e, x] of D) {
    const ev = unitsOf(e)[x - 1];
    const s: CulpritStore = { role: 'persisted-early', traceIndex: ev, addr: NVRAM_BASE + trace.arg(ev), site: siteName(trace.site(ev)), op: opAt(ctx, trace, ev), missing: 'its line was written back (eviction) before the stores below were durable' };
    stores.push(s);
    if (earlyEv < 0) earlyEv = ev;
    lines.push(`the store at ${storeAddr(trace, ev)} by ${s.site} (op ${s.op}, trace #${ev}) may become durable early (line written back by eviction)`);
  }
  if (F === undefined) {
    lines.push(D.length === 0
      ? 'the lower image itself fails and making every executed store durable does not fix it: not a missing flush or fence (a recovery or protocol bug, or state that never reaches NVRAM)'
      : `making every other executed store durable does not fix it: the early store${D.length > 1 ? 's alone break' : ' alone breaks'} recovery, so no flush or fence is missing; recovery cannot roll ${D.length > 1 ? 'them' : 'it'} back (an undo-log entry is missing for ${D.length > 1 ? 'them' : 'it'}, or ${D.length > 1 ? 'they belong' : 'it belongs'} after the section's commit)`);
  } else {
    for (const [e] of F) {
      const ev = unitsOf(e)[0];
      const line = trace.arg(ev) >>> 6;
      const missing = missingFor(ctx, trace, ev, line, until, earlyEv);
      stores.push({ role: 'not-persisted', traceIndex: ev, addr: NVRAM_BASE + trace.arg(ev), site: siteName(trace.site(ev)), op: opAt(ctx, trace, ev), missing });
      lines.push(`the store at ${storeAddr(trace, ev)} by ${siteName(trace.site(ev))} (op ${opAt(ctx, trace, ev)}, trace #${ev}) was ${missing}`);
    }
  }
  return { devs: D, stores, explanation: lines };
}
