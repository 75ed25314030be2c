/**
 * User-facing errors of the CLI and the runner.
 *
 * Model: a UserError is a mistake in what the user gave us (a spec, a path, a flag),
 * not a bug: the CLI prints its message alone (no stack trace) and exits non-zero.
 * A SpecError carries every problem found in a spec at once, each with the field
 * path, what was expected and what was found.
 */

export class UserError extends Error {
  override name = 'UserError';
  /** Exit status the CLI uses (1 unless a subclass says otherwise, e.g. 130 after SIGINT). */
  exitCode = 1;
}

export interface SpecIssue {
  /** Dotted field path, e.g. `workloads[0].params.opsPerThread`; '(root)' for the whole spec. */
  readonly path: string;
  readonly expected: string;
  readonly found: string;
}

export class SpecError extends UserError {
  override name = 'SpecError';
  constructor(
    readonly file: string,
    readonly issues: readonly SpecIssue[],
  ) {
    super(formatIssues(file, issues));
  }
}

function formatIssues(file: string, issues: readonly SpecIssue[]): string {
  const lines = issues.map((i) => `  - ${i.path}: expected ${i.expected}, found ${i.found}`);
  return `invalid experiment spec ${file} (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** A short, printable rendering of any value found in a spec. */
export function describeFound(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Format the path of a zod issue or any key list as `a.b[0].c`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
