/**
 * Keeps the architecture visible: the dependency direction
 * sim <- allocators <- workloads <- experiments -> reports holds for every import line.
 * workloads may import only the allocator contract from allocators/; nothing but the
 * CLI entry (bin/) imports experiments/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const FOLDERS = ['sim', 'allocators', 'workloads', 'experiments', 'reports'] as const;
type Folder = (typeof FOLDERS)[number];

/** Which top-level folders each folder may import from (besides itself). */
const ALLOWED: Record<Folder, readonly Folder[]> = {
  sim: [],
  allocators: ['sim'],
  workloads: ['sim', 'allocators'],
  experiments: ['sim', 'allocators', 'workloads', 'reports'],
  reports: [],
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)) specs.push(m[1]);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]);
  return specs.filter((s) => s.startsWith('.'));
}

function folderOf(path: string): string {
  return relative(ROOT, path).split(/[\\/]/)[0];
}

describe('architecture: dependency direction', () => {
  for (const folder of FOLDERS) {
    it(`${folder}/ imports only ${ALLOWED[folder].join(', ') || 'itself'}`, () => {
      const violations: string[] = [];
      for (const file of sourceFiles(join(ROOT, folder))) {
        if (file.endsWith('.test.ts') && folder !== 'sim') continue; // tests may wire anything below experiments
        for (const spec of importsOf(file)) {
          const target = folderOf(resolve(dirname(file), spec));
          if (target === folder || !(FOLDERS as readonly string[]).includes(target)) continue;
          const ok = (ALLOWED[folder] as readonly string[]).includes(target) &&
            !(folder === 'workloads' && target === 'allocators' && !spec.endsWith('contract.ts') && !file.endsWith('.test.ts'));
          if (!ok) violations.push(`${relative(ROOT, file)} -> ${spec}`);
        }
      }
      expect(violations).toEqual([]);
    });
  }
});
