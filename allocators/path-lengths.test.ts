import { describe, expect, it } from 'vitest';
import { GLIBC_REFERENCE, STANDARD_PATHS, instructionsOf, isMeasured, type PathLengths } from './path-lengths.ts';
import { PATH_LENGTHS as makalu } from './makalu/path-lengths.ts';
import { PATH_LENGTHS as nvmMalloc } from './nvm-malloc/path-lengths.ts';
import { PATH_LENGTHS as pmdk } from './pmdk/path-lengths.ts';
import { PATH_LENGTHS as ralloc } from './ralloc/path-lengths.ts';
import { PATH_LENGTHS as transient } from './transient/path-lengths.ts';

const ALL: Readonly<Record<string, PathLengths>> = { makalu, 'nvm-malloc': nvmMalloc, pmdk, ralloc, transient, glibc: GLIBC_REFERENCE };

describe('allocator path lengths', () => {
  for (const [name, p] of Object.entries(ALL)) {
    describe(name, () => {
      it('names the real allocator it was measured on', () => {
        expect(p.reference.trim().length).toBeGreaterThan(0);
      });

      it('declares every standard path, as a count or with a reason it does not apply', () => {
        for (const path of STANDARD_PATHS) expect(p.paths[path], `${name}.${path}`).toBeDefined();
      });

      it('gives every count as a positive integer with a unit, a method and a non-empty source', () => {
        for (const [path, e] of Object.entries(p.paths)) {
          if (!isMeasured(e)) {
            expect(e.notApplicable.trim().length, `${name}.${path}: reason`).toBeGreaterThan(0);
            continue;
          }
          expect(Number.isSafeInteger(e.instructions) && e.instructions > 0, `${name}.${path}: ${e.instructions}`).toBe(true);
          expect(e.per.trim().length, `${name}.${path}: per`).toBeGreaterThan(0);
          expect(['callgrind', 'source-count']).toContain(e.method);
          expect(e.source.trim().length, `${name}.${path}: source`).toBeGreaterThan(0);
        }
      });

      it('measures both fast paths', () => {
        expect(instructionsOf(p, 'mallocFast')).toBeGreaterThan(0);
        expect(instructionsOf(p, 'freeFast')).toBeGreaterThan(0);
      });
    });
  }

  it('the persistent allocators count recovery per block, the GC-based and PMDK also per object; the volatile one has no log and no recovery', () => {
    for (const p of [makalu, pmdk, ralloc, nvmMalloc]) expect(instructionsOf(p, 'recoveryPerBlock')).toBeGreaterThan(0);
    for (const p of [makalu, pmdk, ralloc]) expect(instructionsOf(p, 'recoveryPerObject')).toBeGreaterThan(0);
    expect(instructionsOf(transient, 'recoveryPerObject')).toBeUndefined();
    expect(instructionsOf(transient, 'recoveryPerBlock')).toBeUndefined();
    expect(instructionsOf(transient, 'logAppend')).toBeUndefined();
  });

  it('PMDK parts do not exceed their wholes', () => {
    const get = (path: string): number => instructionsOf(pmdk, path) ?? Number.NaN;
    expect(get('logAppend')).toBeLessThan(get('redoCommitLogged'));
    expect(get('redoCommitLogged')).toBeLessThan(get('mallocToNvram'));
    expect(get('redoCommitInPlace')).toBeLessThan(get('mallocFast'));
    expect(get('reserveBlock')).toBeLessThan(get('mallocFast'));
    expect(get('mallocFast')).toBeLessThan(get('mallocToNvram'));
    expect(get('freeFast')).toBeLessThan(get('freeFromNvram'));
  });

  it('nvm_malloc activation includes its log append', () => {
    expect(instructionsOf(nvmMalloc, 'logAppend')).toBeLessThan(instructionsOf(nvmMalloc, 'activate') ?? 0);
  });

  it('instructionsOf is undefined for undeclared and not-applicable paths', () => {
    expect(instructionsOf(ralloc, 'noSuchPath')).toBeUndefined();
    expect(instructionsOf(ralloc, 'logAppend')).toBeUndefined();
  });
});
