/**
 * The training report: one self-contained HTML file (`<out>/report.html`) with the loss curves as
 * inline SVG and the run's settings, data, parameters and timing as tables. Nothing in it loads
 * from the network (no scripts, fonts, stylesheets or images), so it opens anywhere, offline, and
 * can be attached to an issue or archived with the adapter.
 */
import { pathRef, type PathLike } from '../io/file-system.ts';
import { formatCount, formatDuration, formatNumber, formatShort, plural } from './format.ts';

export interface LossPoint {
  step: number;
  loss: number;
}

/** A table of the report: label → value, values already formatted for reading. */
export interface ReportSection {
  title: string;
  rows: readonly (readonly [string, string])[];
}

export interface TrainReport {
  title: string;
  /** A line under the title (e.g. when and where the run happened). */
  subtitle?: string;
  trainLoss: readonly LossPoint[];
  evalLoss: readonly LossPoint[];
  sections: readonly ReportSection[];
}

export interface DataSummary {
  file: string;
  format: string;
  examples: number;
  tokens: number;
  trainableTokens: number;
  longest: number;
  truncatedExamples: number;
  truncatedTokens: number;
  skipped: number;
}

/** What bone train ran, as the report and the summary show it. */
export interface TrainRunFacts {
  out: string;
  /** Optimizer steps completed in all (a resumed run counts the earlier ones). */
  step: number;
  /** The step this invocation started from (0, or the checkpoint's step with --resume). */
  startStep: number;
  totalSteps: number;
  reason: 'completed' | 'interrupted';
  resumedFrom: string | null;
  finalLoss: number | null;
  finalEvalLoss: number | null;
  trainableParameters: number;
  allParameters: number;
  /** The modules the adapter wraps, as PEFT resolved them. */
  targets: string[] | string;
  data: { train: DataSummary; eval: DataSummary | null; trainExamples: number; evalExamples: number; batchesPerEpoch: number; batchShapes: { shape: [number, number]; count: number }[] };
  /** This invocation only (not the steps of a resumed run's earlier part). */
  seconds: number;
  tokens: number;
  tokensPerSecond: number;
}

/** What the run was about, beyond its facts: the model, the adapter in words, and the settings as rows. */
export interface TrainRunSetting {
  model: string;
  modelConfig: { model_type: string; num_hidden_layers: number; hidden_size: number; vocab_size: number };
  /** e.g. "MISS (--method mini: mini (mini_r 4)), r 64". */
  adapter: string;
  maxLength: number;
  evalFraction: number | undefined;
  settings: [string, string][];
}

/** The report's tables for a bone train run. */
export function trainReportSections(r: TrainRunFacts, about: TrainRunSetting): ReportSection[] {
  const c = about.modelConfig;
  const d = r.data;
  const dataRows = (label: string, s: DataSummary): [string, string][] => [
    [`${label} file`, `${s.file} (${s.format})`],
    [`${label} examples`, `${formatCount(s.examples)}${s.skipped ? ` (${plural(s.skipped, 'more example')} skipped: nothing to learn from)` : ''}`],
    [`${label} tokens`, `${formatCount(s.tokens)} (${formatCount(s.trainableTokens)} with loss), longest example ${s.longest}`],
    [`${label} truncated`, `${plural(s.truncatedExamples, 'example')} cut to ${about.maxLength} tokens (${plural(s.truncatedTokens, 'token')} dropped)`],
  ];
  return [
    {
      title: 'Run', rows: [
        ['status', r.reason === 'completed' ? `completed ${r.step} steps` : `interrupted at step ${r.step} of ${r.totalSteps} (checkpoint written; --resume continues)`],
        ['resumed from', r.resumedFrom ? `${r.resumedFrom} (step ${r.startStep})` : 'no (a fresh run)'],
        ['final train loss', r.finalLoss === null ? '-' : formatNumber(r.finalLoss)],
        ['final eval loss', r.finalEvalLoss === null ? '-' : formatNumber(r.finalEvalLoss)],
        ['adapter', `${r.out} (PEFT format)`],
      ],
    },
    {
      title: 'Speed', rows: [
        ['wall time', formatDuration(r.seconds)],
        ['tokens trained on (this invocation)', formatCount(r.tokens)],
        ['tokens per second (training steps)', formatCount(r.tokensPerSecond)],
      ],
    },
    {
      title: 'Model and adapter', rows: [
        ['base model', `${about.model} (${c.model_type}: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size})`],
        ['adapter', about.adapter],
        ['targets', Array.isArray(r.targets) ? r.targets.join(', ') : r.targets],
        ['trainable parameters', `${formatCount(r.trainableParameters)} of ${formatCount(r.allParameters)} (${(100 * r.trainableParameters / r.allParameters).toFixed(4)}%, ${formatShort(r.trainableParameters)})`],
      ],
    },
    {
      title: 'Data', rows: [
        // With --eval-fraction the file holds both parts: call it data, not train.
        ...dataRows(about.evalFraction !== undefined ? 'data' : 'train', d.train),
        ...(d.eval ? dataRows('eval', d.eval) : []),
        ['split', d.eval ? `train ${d.trainExamples}, eval ${d.evalExamples} (separate file)` : d.evalExamples ? `train ${d.trainExamples}, eval ${d.evalExamples} (--eval-fraction ${about.evalFraction})` : `train ${d.trainExamples}, no evaluation`],
        ['batches per epoch', String(d.batchesPerEpoch)],
        ['batch shapes [batch, tokens] × count', d.batchShapes.map((b) => `[${b.shape.join(', ')}] × ${b.count}`).join(', ')],
      ],
    },
    { title: 'Settings', rows: about.settings },
  ];
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

// ---- the chart ---------------------------------------------------------------------------------------

const CHART = { width: 760, height: 340, left: 64, right: 24, top: 24, bottom: 48 } as const;
/** Longer curves are averaged into this many points: the SVG stays small and readable. */
const MAX_POINTS = 1500;

/** 1, 2 or 5 × a power of ten, so that about `count` ticks cover [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function downsample(points: readonly LossPoint[]): LossPoint[] {
  if (points.length <= MAX_POINTS) return [...points];
  const out: LossPoint[] = [];
  const per = points.length / MAX_POINTS;
  for (let i = 0; i < MAX_POINTS; i++) {
    const chunk = points.slice(Math.floor(i * per), Math.floor((i + 1) * per));
    out.push({ step: chunk.reduce((s, p) => s + p.step, 0) / chunk.length, loss: chunk.reduce((s, p) => s + p.loss, 0) / chunk.length });
  }
  return out;
}

/** Exponential moving average with a bias correction (as TensorBoard's smoothing), to see the trend through noisy steps. */
function smooth(points: readonly LossPoint[], weight = 0.9): LossPoint[] {
  let avg = 0;
  return points.map((p, i) => {
    avg = weight * avg + (1 - weight) * p.loss;
    return { step: p.step, loss: avg / (1 - weight ** (i + 1)) };
  });
}

function fmtTick(v: number): string {
  return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(Number(v.toPrecision(6)));
}

/** The loss curves as an inline SVG element (no xmlns: inside HTML it is not needed, and it would be a URL). */
export function lossChartSvg(train: readonly LossPoint[], evaluation: readonly LossPoint[]): string {
  const { width, height, left, right, top, bottom } = CHART;
  const finite = (p: LossPoint): boolean => Number.isFinite(p.loss) && Number.isFinite(p.step);
  const trainPts = downsample(train.filter(finite));
  const evalPts = evaluation.filter(finite);
  const all = [...trainPts, ...evalPts];
  const label = 'Training and evaluation loss by optimizer step';
  if (all.length === 0) {
    return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}"><text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="empty">no steps recorded</text></svg>`;
  }
  let [x0, x1] = [Math.min(...all.map((p) => p.step)), Math.max(...all.map((p) => p.step))];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  let [y0, y1] = [Math.min(...all.map((p) => p.loss)), Math.max(...all.map((p) => p.loss))];
  const pad = (y1 - y0) * 0.05 || Math.abs(y0) * 0.05 || 1;
  y0 -= pad;
  y1 += pad;
  const px = (step: number): number => left + ((step - x0) / (x1 - x0)) * (width - left - right);
  const py = (loss: number): number => top + (1 - (loss - y0) / (y1 - y0)) * (height - top - bottom);
  const coords = (pts: readonly LossPoint[]): string => pts.map((p) => `${px(p.step).toFixed(1)},${py(p.loss).toFixed(1)}`).join(' ');

  const parts: string[] = [`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">`, `<title>${label}</title>`];
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line class="grid" x1="${left}" x2="${width - right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${left - 8}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 8).filter((s) => Number.isInteger(s))) {
    parts.push(`<line class="grid" x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${top}" y2="${height - bottom}"/>`);
    parts.push(`<text class="tick" x="${px(t).toFixed(1)}" y="${height - bottom + 18}" text-anchor="middle">${fmtTick(t)}</text>`);
  }
  parts.push(`<rect class="frame" x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}"/>`);
  parts.push(`<text class="axis" x="${(left + width - right) / 2}" y="${height - 8}" text-anchor="middle">step</text>`);
  parts.push(`<text class="axis" x="16" y="${(top + height - bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + height - bottom) / 2})">loss</text>`);
  if (trainPts.length > 0) {
    // With many noisy steps, the raw curve goes faint and a smoothed one shows the trend.
    const noisy = trainPts.length >= 20;
    parts.push(`<polyline class="train${noisy ? ' raw' : ''}" points="${coords(trainPts)}"><title>train loss</title></polyline>`);
    if (noisy) parts.push(`<polyline class="train" points="${coords(smooth(trainPts))}"><title>train loss (smoothed)</title></polyline>`);
    if (trainPts.length === 1) parts.push(`<circle class="train" cx="${px(trainPts[0]!.step).toFixed(1)}" cy="${py(trainPts[0]!.loss).toFixed(1)}" r="3"/>`);
  }
  if (evalPts.length > 0) {
    parts.push(`<polyline class="eval" points="${coords(evalPts)}"><title>eval loss</title></polyline>`);
    for (const p of evalPts) parts.push(`<circle class="eval" cx="${px(p.step).toFixed(1)}" cy="${py(p.loss).toFixed(1)}" r="3"><title>step ${p.step}: eval loss ${fmtTick(p.loss)}</title></circle>`);
  }
  // Legend
  const lx = width - right - 150;
  parts.push(`<line class="train legend" x1="${lx}" x2="${lx + 24}" y1="${top + 14}" y2="${top + 14}"/><text class="tick" x="${lx + 30}" y="${top + 18}">train loss</text>`);
  if (evalPts.length > 0) parts.push(`<line class="eval legend" x1="${lx}" x2="${lx + 24}" y1="${top + 32}" y2="${top + 32}"/><text class="tick" x="${lx + 30}" y="${top + 36}">eval loss</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

// ---- the page ----------------------------------------------------------------------------------------

/** The page, headings, tables and chart frame that every report here shares (the demo's too). */
export const BASE_REPORT_STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 860px; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; }
.subtitle { color: #59636e; margin-top: 0; }
h2 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #d1d9e0; padding-bottom: 0.3rem; }
table { border-collapse: collapse; width: 100%; }
td { padding: 0.25rem 0.5rem; vertical-align: top; border-bottom: 1px solid #eef0f2; }
.chart { width: 100%; height: auto; }
.chart .grid { stroke: #eef0f2; }
.chart .frame { fill: none; stroke: #d1d9e0; }
.chart polyline { fill: none; stroke-width: 2; stroke-linejoin: round; }
`;

const STYLE = `${BASE_REPORT_STYLE}
td:first-child { color: #59636e; width: 35%; }
td:last-child { font-family: ui-monospace, "SF Mono", Menlo, Consolas, monospace; font-size: 0.9rem; word-break: break-all; }
.chart .tick, .chart .axis, .chart .empty { font-size: 12px; fill: #59636e; }
.chart .train { stroke: #0969da; fill: #0969da; }
.chart polyline.train { fill: none; }
.chart polyline.raw { stroke-width: 1; opacity: 0.3; }
.chart .eval { stroke: #d1242f; fill: #d1242f; }
.chart polyline.eval { fill: none; }
.chart .legend { stroke-width: 2; }
`;

export function renderTrainReport(report: TrainReport): string {
  const sections = report.sections.map((s) => [
    `<h2>${escapeHtml(s.title)}</h2>`,
    '<table>',
    ...s.rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`),
    '</table>',
  ].join('\n'));
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(report.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(report.title)}</h1>`,
    report.subtitle ? `<p class="subtitle">${escapeHtml(report.subtitle)}</p>` : '',
    '<h2>Loss</h2>',
    lossChartSvg(report.trainLoss, report.evalLoss),
    ...sections,
    '</body>',
    '</html>',
  ].filter((line) => line !== '').join('\n') + '\n';
}

/** Writes the report (atomically, as the file system writes every file). */
export async function writeTrainReport(path: PathLike, report: TrainReport): Promise<void> {
  await pathRef(path).write(renderTrainReport(report));
}
