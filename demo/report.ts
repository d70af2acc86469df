/**
 * The demo's HTML report (demo/out/report.html): one self-contained page — no scripts, fonts or
 * images from anywhere — with the accuracy before and after each fine-tune, the loss curves of Bone
 * and LoRA on one chart (same steps, so they compare directly), sample answers and the settings.
 *
 * It is a comparison of two runs, which the single-run report of `bone train` (src/cli/report.ts)
 * does not draw; it reuses that report's HTML escaping and axis ticks.
 */
import { BASE_REPORT_STYLE, escapeHtml, niceTicks } from '../src/cli/report.ts';
import { pathRef, type PathLike } from '../src/io/file-system.ts';

export interface CurvePoint {
  step: number;
  loss: number;
}

export interface MethodRun {
  /** "Bone" or "LoRA". */
  name: string;
  /** One line: the adapter's configuration. */
  description: string;
  trainable: number;
  accuracy: number;
  accuracyBySkill: Record<string, number>;
  trainSeconds: number;
  tokensPerSecond: number;
  trainLoss: readonly CurvePoint[];
  evalLoss: readonly CurvePoint[];
  adapterDir: string;
}

export interface SampleRow {
  prompt: string;
  expected: string;
  /** The answer (first line of the continuation) per column: "base", then each method. */
  answers: readonly string[];
}

export interface DemoReport {
  title: string;
  subtitle: string;
  baseAccuracy: number;
  baseAccuracyBySkill: Record<string, number>;
  evalCount: number;
  runs: readonly MethodRun[];
  samples: readonly SampleRow[];
  settings: readonly (readonly [string, string])[];
}

const COLORS = ['#0969da', '#bf3989', '#1a7f37', '#9a6700'];

/** The report's look; the page of `npm run demo:web` uses it too, so its tables and chart read the same. */
export const DEMO_REPORT_STYLE = `${BASE_REPORT_STYLE}
th { text-align: left; font-weight: 600; padding: 0.25rem 0.5rem; border-bottom: 2px solid #d1d9e0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, td.code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 0.88rem; white-space: pre-wrap; }
.ok { color: #1a7f37; }
.bad { color: #d1242f; }
.chart text { font-size: 12px; fill: #59636e; }
.chart polyline.raw { stroke-width: 1; opacity: 0.25; }
.chart polyline.eval { stroke-dasharray: 5 4; }
`;

const percent = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** Exponential moving average with bias correction (TensorBoard's smoothing): the trend through noisy steps. */
function smooth(points: readonly CurvePoint[], weight = 0.8): CurvePoint[] {
  let avg = 0;
  return points.map((p, i) => {
    avg = weight * avg + (1 - weight) * p.loss;
    return { step: p.step, loss: avg / (1 - weight ** (i + 1)) };
  });
}

/** Ticks of a log-scale axis: the powers of ten in [lo, hi], with 2× and 5× between them when there are few. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = Number((m * 10 ** e).toPrecision(6));
      if (t >= lo && t <= hi) ticks.push(t);
    }
  }
  return ticks;
}

/**
 * Train (raw + smoothed) and held-out loss of every run on shared axes, as an inline SVG (also the
 * live chart of the page of `npm run demo:web`, redrawn after each step). The loss
 * axis is logarithmic: a fine-tune starts near 8 and ends near 0.01, and on a linear axis everything
 * after the first few steps would be a flat line at the bottom.
 */
export function comparisonChartSvg(runs: readonly Pick<MethodRun, 'name' | 'trainLoss' | 'evalLoss'>[]): string {
  const [width, height, left, right, top, bottom] = [800, 340, 56, 20, 20, 44];
  const all = runs.flatMap((r) => [...r.trainLoss, ...r.evalLoss]).filter((p) => Number.isFinite(p.loss) && p.loss > 0);
  if (all.length === 0) return '<p>no steps recorded</p>';
  const x1 = Math.max(...all.map((p) => p.step));
  const x0 = Math.min(0, ...all.map((p) => p.step));
  // Below 1e-3 nothing is visible that matters; clamping keeps a stray 0.0001 from squashing the rest.
  const lo = Math.max(1e-3, Math.min(...all.map((p) => p.loss)));
  const hi = Math.max(...all.map((p) => p.loss));
  const [y0, y1] = [Math.log10(lo) - 0.05, Math.log10(hi) + 0.05];
  const px = (s: number): string => (left + ((s - x0) / (x1 - x0 || 1)) * (width - left - right)).toFixed(1);
  const py = (l: number): string => (top + (1 - (Math.log10(Math.max(l, lo)) - y0) / (y1 - y0 || 1)) * (height - top - bottom)).toFixed(1);
  const line = (pts: readonly CurvePoint[]): string => pts.filter((p) => Number.isFinite(p.loss)).map((p) => `${px(p.step)},${py(p.loss)}`).join(' ');
  const parts = [`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="loss by step">`];
  for (const t of logTicks(lo, hi)) {
    parts.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${py(t)}" y2="${py(t)}"/><text x="${left - 6}" y="${Number(py(t)) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1, 8).filter(Number.isInteger)) {
    parts.push(`<line class="grid" x1="${px(t)}" x2="${px(t)}" y1="${top}" y2="${height - bottom}"/><text x="${px(t)}" y="${height - bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<rect class="frame" x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}"/>`);
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle">optimizer step</text>`);
  parts.push(`<text x="14" y="${(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(top + height - bottom) / 2})">loss (log scale)</text>`);
  runs.forEach((r, i) => {
    const color = COLORS[i % COLORS.length]!;
    parts.push(`<polyline class="raw" stroke="${color}" points="${line(r.trainLoss)}"/>`);
    parts.push(`<polyline stroke="${color}" points="${line(smooth(r.trainLoss))}"><title>${escapeHtml(r.name)} train loss</title></polyline>`);
    if (r.evalLoss.length > 0) parts.push(`<polyline class="eval" stroke="${color}" points="${line(r.evalLoss)}"><title>${escapeHtml(r.name)} held-out loss</title></polyline>`);
    const ly = top + 16 + i * 36;
    const lx = width - right - 200;
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${lx + 30}" y="${ly + 4}">${escapeHtml(r.name)} train loss (smoothed)</text>`);
    parts.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly + 16}" y2="${ly + 16}" stroke="${color}" stroke-width="2" stroke-dasharray="5 4"/><text x="${lx + 30}" y="${ly + 20}">${escapeHtml(r.name)} held-out loss</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function table(header: readonly string[], rows: readonly (readonly string[])[], numeric: (column: number) => boolean): string {
  const cell = (tag: string, text: string, c: number): string => `<${tag}${numeric(c) ? ' class="num"' : ''}>${text}</${tag}>`;
  return [
    '<table>',
    `<tr>${header.map((h, c) => cell('th', escapeHtml(h), c)).join('')}</tr>`,
    ...rows.map((r) => `<tr>${r.map((v, c) => cell('td', v, c)).join('')}</tr>`),
    '</table>',
  ].join('\n');
}

export function renderDemoReport(report: DemoReport): string {
  const skills = Object.keys(report.baseAccuracyBySkill);
  const results = table(
    ['', 'trainable parameters', `exact match (${report.evalCount} held out)`, ...skills, 'train time', 'tokens/s'],
    [
      ['base model, before', '—', percent(report.baseAccuracy), ...skills.map((s) => percent(report.baseAccuracyBySkill[s]!)), '—', '—'],
      ...report.runs.map((r) => [
        `${escapeHtml(r.name)} <br><small>${escapeHtml(r.description)}</small>`, r.trainable.toLocaleString('en-US'), `<b>${percent(r.accuracy)}</b>`,
        ...skills.map((s) => percent(r.accuracyBySkill[s] ?? 0)), `${r.trainSeconds.toFixed(1)} s`, r.tokensPerSecond.toFixed(0),
      ]),
    ],
    (c) => c > 0,
  );
  const columns = ['base', ...report.runs.map((r) => r.name)];
  const samples = table(
    ['prompt', 'expected', ...columns],
    report.samples.map((s) => [
      `<span class="code">${escapeHtml(s.prompt)}</span>`, `<span class="code">${escapeHtml(s.expected.trim())}</span>`,
      ...s.answers.map((a) => `<span class="code ${a === s.expected.trim() ? 'ok' : 'bad'}">${escapeHtml(a === '' ? '(nothing)' : a)}</span>`),
    ]),
    () => false,
  );
  const settings = table(['setting', 'value'], report.settings.map(([k, v]) => [escapeHtml(k), `<span class="code">${escapeHtml(v)}</span>`]), () => false);
  const adapters = report.runs.map((r) => `<li>${escapeHtml(r.name)}: <code>${escapeHtml(r.adapterDir)}</code></li>`).join('');
  return [
    '<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(report.title)}</title>`, `<style>${DEMO_REPORT_STYLE}</style>`, '</head>', '<body>',
    `<h1>${escapeHtml(report.title)}</h1>`, `<p class="subtitle">${escapeHtml(report.subtitle)}</p>`,
    '<h2>Results</h2>', results,
    '<h2>Loss</h2>', comparisonChartSvg(report.runs),
    '<h2>Sample answers (held-out questions)</h2>', samples,
    '<h2>Settings</h2>', settings,
    '<h2>Adapters (PEFT format)</h2>', `<ul>${adapters}</ul>`,
    '</body>', '</html>', '',
  ].join('\n');
}

export async function writeDemoReport(path: PathLike, report: DemoReport): Promise<void> {
  await pathRef(path).write(renderDemoReport(report));
}
