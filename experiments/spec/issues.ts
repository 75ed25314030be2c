/**
 * zod issues -> SpecIssue (path, expected, found), worded for a researcher.
 */
import type { z } from 'zod';
import { describeFound, formatPath, type SpecIssue } from '../errors.ts';

type ZIssue = z.core.$ZodIssue & { input?: unknown };

export function fromZodIssues(issues: readonly ZIssue[]): SpecIssue[] {
  return issues.flatMap(convert);
}

function convert(issue: ZIssue): SpecIssue[] {
  const path = formatPath(issue.path);
  const found = describeFound(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      return [{ path, expected: article(issue.expected), found }];
    case 'too_small':
      return [{ path, expected: custom(issue.message) ?? bound('at least', issue.minimum, issue.origin, issue.inclusive), found }];
    case 'too_big':
      return [{ path, expected: custom(issue.message) ?? bound('at most', issue.maximum, issue.origin, issue.inclusive), found }];
    case 'invalid_value':
      return [{ path, expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`, found }];
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        expected: 'no such field (it is not part of the spec format; see README "Experiment specs")',
        found: describeFound((issue.input as Record<string, unknown> | undefined)?.[key]),
      }));
    case 'invalid_union':
      return [{ path, expected: 'one of the accepted forms (see README "Experiment specs")', found }];
    case 'not_multiple_of':
      return [{ path, expected: `a multiple of ${String(issue.divisor)}`, found }];
    default:
      return [{ path, expected: issue.message, found }];
  }
}

function article(type: string): string {
  if (type === 'array') return 'a list';
  if (type === 'object') return 'an object';
  if (type === 'int') return 'an integer';
  return `a ${type}`;
}

/** Our own refinement messages are phrased as the expectation; zod's defaults start "Too". */
function custom(message: string): string | undefined {
  return /^Too (small|big)/.test(message) ? undefined : message;
}

function bound(word: string, limit: unknown, origin: string, inclusive: boolean | undefined): string {
  const n = Number(limit);
  if (origin === 'array') return `${word} ${n} item${n === 1 ? '' : 's'}`;
  if (origin === 'string') return `${word} ${n} character${n === 1 ? '' : 's'}`;
  const limitText = inclusive === false ? (word === 'at least' ? `> ${n}` : `< ${n}`) : `${word} ${n}`;
  return origin === 'number' || origin === 'int' ? `a number ${limitText}` : limitText;
}
