#!/usr/bin/env node
// Render an nvlab report.html in headless Chromium and save a screenshot, to check that
// the page reads well in a real browser (not part of `npm test`: it needs Chromium).
// Usage: node bin/check-report.mjs [report.html] [screenshot.png] [heightPx]
// Chromium: /usr/bin/chromium (Debian: apt-get install chromium) or $CHROMIUM.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const report = resolve(process.argv[2] ?? 'out/demo/report.html');
const shot = resolve(process.argv[3] ?? report.replace(/\.html$/, '.png'));
const height = Number(process.argv[4] ?? 3200);
const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';

if (!existsSync(report)) {
  console.error(`check-report: ${report} does not exist (run \`npm start\` first)`);
  process.exit(1);
}
if (!existsSync(chromium)) {
  console.error(`check-report: no Chromium at ${chromium} (apt-get install chromium, or set CHROMIUM)`);
  process.exit(1);
}
const profile = mkdtempSync(join(tmpdir(), 'nvlab-chromium-'));
const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--hide-scrollbars',
  `--window-size=1280,${height}`, `--screenshot=${shot}`, pathToFileURL(report).href,
];
const r = spawnSync(chromium, args, { encoding: 'utf8', timeout: 120_000 });
rmSync(profile, { recursive: true, force: true });
if (r.status !== 0 || !existsSync(shot)) {
  console.error(`check-report: chromium failed (status ${r.status}): ${(r.stderr || '').split('\n').slice(-5).join('\n')}`);
  process.exit(1);
}
const bytes = statSync(shot).size;
if (bytes < 10_000) {
  console.error(`check-report: screenshot ${shot} is suspiciously small (${bytes} B): blank page?`);
  process.exit(1);
}
console.log(`check-report: rendered ${report} -> ${shot} (${bytes} B)`);
