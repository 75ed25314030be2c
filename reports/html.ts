/**
 * The comparison report: one self-contained HTML page (inline CSS, inline SVG).
 *
 * Model: the caller builds a ReportModel (plain strings and tables); this module only
 * lays it out: header and manifest, headline ratios, charts, further sections (such as
 * "Model vs reality"), tables, crash verdicts, counterexamples, the spec. No scripts, no external resources.
 *
 * Invariants: every text is HTML-escaped except the SVG charts, which come from our own
 * renderer; the page depends only on the model (byte-identical for the same model).
 */

export interface Table {
  readonly title: string;
  readonly note?: string;
  readonly columns: readonly { readonly name: string; readonly title?: string; readonly numeric?: boolean }[];
  readonly rows: readonly (readonly string[])[];
  /** Per row, an optional CSS class ('bad', 'good', 'warn', 'expected': a canary or the volatile reference failing as it must). */
  readonly rowClasses?: readonly (string | undefined)[];
}

export interface Headline {
  readonly label: string;
  readonly value: string;
  readonly detail: string;
}

export interface ReportModel {
  readonly title: string;
  readonly description?: string;
  readonly facts: readonly (readonly [string, string])[];
  readonly headlines: readonly Headline[];
  readonly charts: readonly { readonly title: string; readonly svg: string; readonly file: string }[];
  readonly tables: readonly Table[];
  readonly crashTables: readonly Table[];
  readonly counterexamples: readonly { readonly title: string; readonly lines: readonly string[] }[];
  readonly notes: readonly string[];
  readonly specJson: string;
  /** Further sections before the results (e.g. "Model vs reality"): text, tables, charts. */
  readonly sections?: readonly ReportSection[];
}

export interface ReportSection {
  readonly title: string;
  readonly paragraphs: readonly string[];
  readonly tables: readonly Table[];
  readonly charts: readonly { readonly title: string; readonly svg: string; readonly file: string }[];
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CSS = `
:root{--fg:#1d2330;--muted:#5c6577;--line:#dfe3ea;--bg:#f7f8fb;--accent:#1b6ca8;--bad:#b3261e;--good:#1e7b34;--warn:#9a6700}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 "DejaVu Sans",system-ui,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:28px 24px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:36px 0 10px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 6px}.lead{color:var(--muted);margin:0 0 16px}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;color:var(--muted);background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 14px}
.facts b{color:var(--fg);font-weight:600}.mono,code,pre{font-family:"DejaVu Sans Mono",ui-monospace,monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:220px;flex:1}
.card .v{font-size:26px;font-weight:700;color:var(--accent)}.card .l{font-weight:600}.card .d{font-size:12.5px;color:var(--muted)}
.charts{display:flex;flex-wrap:wrap;gap:14px}figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px;max-width:100%;overflow-x:auto}
figcaption{font-size:12.5px;color:var(--muted);margin-top:4px}
table{border-collapse:collapse;background:#fff;border:1px solid var(--line);font-size:13px;margin:4px 0 8px;max-width:100%}
th,td{padding:4px 9px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}th{background:#eef1f6;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.bad td{background:#fdecea}tr.good td:first-child{border-left:3px solid var(--good)}tr.warn td{background:#fff8e1}tr.expected td{color:var(--muted)}tr.expected td:first-child{border-left:3px solid var(--muted)}
.wrap{overflow-x:auto}.note{font-size:12.5px;color:var(--muted)}.cx{background:#fff;border:1px solid var(--line);border-left:4px solid var(--bad);border-radius:6px;padding:8px 12px;margin:8px 0}
.cx pre{margin:4px 0 0;white-space:pre-wrap;overflow-wrap:anywhere}details{margin-top:8px}summary{cursor:pointer;color:var(--accent)}
`;

function table(t: Table): string {
  const head = t.columns.map((c) => `<th${c.title ? ` title="${escapeHtml(c.title)}"` : ''}>${escapeHtml(c.name)}</th>`).join('');
  const body = t.rows
    .map((r, i) => {
      const cls = t.rowClasses?.[i];
      const cells = r.map((v, j) => `<td${t.columns[j]?.numeric ? ' class="n"' : ''}>${escapeHtml(v)}</td>`).join('');
      return `<tr${cls ? ` class="${cls}"` : ''}>${cells}</tr>`;
    })
    .join('\n');
  const note = t.note ? `<p class="note">${escapeHtml(t.note)}</p>` : '';
  return `<h3>${escapeHtml(t.title)}</h3>${note}<div class="wrap"><table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function section(title: string, body: string): string {
  return body ? `<section><h2>${escapeHtml(title)}</h2>\n${body}</section>\n` : '';
}

function figure(c: { readonly title: string; readonly svg: string; readonly file: string }): string {
  return `<figure>${c.svg.replace(/^<\?xml[^>]*>\s*/, '')}<figcaption>${escapeHtml(c.title)} · <span class="mono">${escapeHtml(c.file)}</span></figcaption></figure>`;
}

function extraSection(x: ReportSection): string {
  const text = x.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
  const charts = x.charts.length > 0 ? `<div class="charts">${x.charts.map(figure).join('\n')}</div>` : '';
  return section(x.title, [text, x.tables.map(table).join('\n'), charts].filter((b) => b !== '').join('\n'));
}

export function renderReport(m: ReportModel): string {
  const facts = m.facts.map(([k, v]) => `<b>${escapeHtml(k)}</b><span class="mono">${escapeHtml(v)}</span>`).join('');
  const cards = m.headlines.map((h) => `<div class="card"><div class="l">${escapeHtml(h.label)}</div><div class="v">${escapeHtml(h.value)}</div><div class="d">${escapeHtml(h.detail)}</div></div>`).join('');
  const charts = m.charts.map(figure).join('\n');
  const cx = m.counterexamples.map((c) => `<div class="cx"><b>${escapeHtml(c.title)}</b><pre>${escapeHtml(c.lines.join('\n'))}</pre></div>`).join('\n');
  const notes = m.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(m.title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${escapeHtml(m.title)}</h1>
${m.description ? `<p class="lead">${escapeHtml(m.description)}</p>` : ''}
<div class="facts">${facts}</div>
${section('Headline', cards ? `<div class="cards">${cards}</div>` : '')}${section('Charts', charts ? `<div class="charts">${charts}</div>` : '')}${(m.sections ?? []).map(extraSection).join('')}${section('Results', m.tables.map(table).join('\n'))}${section('Crash consistency', m.crashTables.map(table).join('\n'))}${section('Minimized counterexamples', cx)}${section('Notes', notes ? `<ul>${notes}</ul>` : '')}<section><h2>Manifest and spec</h2><p class="note">Host and wall-clock times are in manifest.json and run.log (kept out of this page so that it is byte-identical run to run).</p>
<details><summary>Experiment spec (JSON)</summary><pre>${escapeHtml(m.specJson)}</pre></details></section>
</main></body></html>
`;
}
