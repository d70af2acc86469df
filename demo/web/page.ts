/**
 * The page of `npm run demo:web` (the tab's main thread): the form, the live loss chart, the answers
 * before and after, and the adapter's download links. All computing is in the worker (worker.ts);
 * this file only sends what the user chose and draws what comes back.
 *
 * URL parameters (for benchmarks and the browser tests): `threads=N` (WebAssembly threads),
 * `provider=wasm|webgpu`, `snapshot=1,2` (post the adapter and optimizer state after those steps).
 * Everything the page learns is also kept in `window.boneDemo`, which the tests read.
 */
import { DEMO_REPORT_STYLE, comparisonChartSvg, type CurvePoint } from '../report.ts';
import type { EvaluationView, FromWorker, Snapshot, ToWorker } from './protocol.ts';

interface DemoState {
  ready: Extract<FromWorker, { type: 'ready' }> | null;
  loaded: Extract<FromWorker, { type: 'loaded' }> | null;
  trainLoss: CurvePoint[];
  evalLoss: CurvePoint[];
  before: EvaluationView | null;
  after: EvaluationView | null;
  snapshots: Record<number, Snapshot>;
  adapter: Extract<FromWorker, { type: 'adapter' }> | null;
  done: Extract<FromWorker, { type: 'done' }> | null;
  stopped: number | null;
  errors: string[];
  tokens: number;
  seconds: number;
  /** Each step's tokens and seconds, in order (the benchmark leaves out the first: it compiles). */
  stepTimes: { tokens: number; seconds: number }[];
  /** Milliseconds from navigation to the model loaded in the worker (runtime started, files fetched). */
  loadedAtMs: number | null;
}

const state: DemoState = {
  ready: null, loaded: null, trainLoss: [], evalLoss: [], before: null, after: null, snapshots: {}, adapter: null, done: null, stopped: null,
  errors: [], tokens: 0, seconds: 0, stepTimes: [], loadedAtMs: null,
};
(window as unknown as { boneDemo: DemoState }).boneDemo = state;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const DEMO_MODEL = new URL('../model/', location.href).pathname;
const DEMO_DATA = new URL('../data/', location.href).pathname;

document.head.append(Object.assign(document.createElement('style'), { textContent: DEMO_REPORT_STYLE }));

const worker = new Worker(new URL('dist/worker.js', location.href), { type: 'module' });
const send = (message: ToWorker): void => worker.postMessage(message);

function showError(message: string | null): void {
  const box = $('error');
  box.hidden = message === null;
  box.textContent = message ?? '';
  if (message !== null) state.errors.push(message);
}

function status(text: string): void {
  $('status').textContent = text;
}

function setRunning(running: boolean, resumable = false): void {
  ($('train') as HTMLButtonElement).disabled = running;
  ($('stop') as HTMLButtonElement).disabled = !running;
  ($('resume') as HTMLButtonElement).disabled = running || !resumable;
}

let chartQueued = false;
function drawChart(): void {
  if (chartQueued) return;
  chartQueued = true;
  requestAnimationFrame(() => {
    chartQueued = false;
    $('chart').innerHTML = comparisonChartSvg([{ name: method(), trainLoss: state.trainLoss, evalLoss: state.evalLoss }]);
  });
}

const method = (): string => ($('method') as HTMLSelectElement).value;
const percent = (x: number | null): string => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);

function drawAnswers(): void {
  const rows = (state.before ?? state.after)?.samples ?? [];
  const body = $('answers').querySelector('tbody')!;
  body.replaceChildren(...rows.map((sample, i) => {
    const tr = document.createElement('tr');
    const after = state.after?.samples[i];
    for (const [text, ok] of [[sample.prompt, null], [sample.expected, null], [sample.continuation, sample.correct], [after?.continuation ?? '', after?.correct ?? null]] as const) {
      const td = document.createElement('td');
      td.textContent = text;
      if (ok !== null) td.className = ok ? 'ok' : 'bad';
      tr.append(td);
    }
    return tr;
  }));
  const line = (phase: string, e: EvaluationView | null): string => (e === null ? '' : `${phase}: ${e.correct}/${e.total} = ${percent(e.accuracy)}`
    + (Object.keys(e.bySkill).length > 1 ? ` (${Object.entries(e.bySkill).map(([s, a]) => `${s} ${percent(a)}`).join(', ')})` : ''));
  $('accuracy').textContent = [line('exact match before', state.before), line('after', state.after)].filter((s) => s !== '').join(' · ');
}

function offerDownload(files: Record<string, Uint8Array>): void {
  const box = $('download');
  box.replaceChildren('PEFT\'s two files: ');
  for (const [name, bytes] of Object.entries(files)) {
    const a = document.createElement('a');
    a.className = 'file';
    a.download = name;
    a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: name.endsWith('.json') ? 'application/json' : 'application/octet-stream' }));
    a.textContent = `${name} (${bytes.length.toLocaleString('en-US')} bytes)`;
    a.id = `download-${name.replace(/\W/g, '-')}`;
    box.append(a);
  }
}

worker.onmessage = (event: MessageEvent<FromWorker>) => {
  const m = event.data;
  switch (m.type) {
    case 'ready': {
      state.ready = m;
      const select = $('method') as HTMLSelectElement;
      select.replaceChildren(...m.methods.map((name) => Object.assign(document.createElement('option'), { value: name, textContent: name })));
      $('backend').textContent = `${m.backend}, onnxruntime-web ${m.ortVersion}; page ${m.crossOriginIsolated ? 'cross-origin isolated (threads available)' : 'not cross-origin isolated (one thread)'}; WebGPU ${m.webgpu ? 'available' : 'not available here'}`;
      send({ type: 'load', model: { kind: 'url', url: DEMO_MODEL } });
      status('loading the demo model…');
      break;
    }
    case 'loaded':
      state.loaded = m;
      state.loadedAtMs ??= performance.now();
      $('model-info').textContent = `loaded: ${m.description}, ${m.parameters.toLocaleString('en-US')} parameters (${m.seconds.toFixed(1)} s)`;
      status('ready');
      setRunning(false);
      break;
    case 'status':
      status(m.text);
      break;
    case 'evaluation':
      if (m.phase === 'before') state.before = m.evaluation;
      else state.after = m.evaluation;
      drawAnswers();
      break;
    case 'start':
      status(`training ${m.method}: ${m.trainable.toLocaleString('en-US')} trainable parameters, ${m.trainExamples.toLocaleString('en-US')} training examples, ${m.totalSteps} steps`);
      break;
    case 'step':
      state.trainLoss.push({ step: m.step, loss: m.loss });
      state.tokens += m.tokens;
      state.seconds += m.seconds;
      state.stepTimes.push({ tokens: m.tokens, seconds: m.seconds });
      $('progress').textContent = `step ${m.step}/${m.totalSteps} · loss ${m.loss.toFixed(4)} · lr ${m.lr.toExponential(2)} · ${(state.tokens / state.seconds).toFixed(0)} tokens/s · ${state.seconds.toFixed(1)} s of training`;
      drawChart();
      break;
    case 'eval':
      state.evalLoss.push({ step: m.step, loss: m.loss });
      drawChart();
      break;
    case 'snapshot':
      state.snapshots[m.snapshot.step] = m.snapshot;
      break;
    case 'stopped':
      state.stopped = m.step;
      status(`stopped after step ${m.step}; the checkpoint is in memory, Resume continues from it`);
      setRunning(false, true);
      break;
    case 'done':
      state.done = m;
      state.stopped = null;
      status(`trained ${m.step} steps in ${m.seconds.toFixed(1)} s (${(m.tokens / m.seconds).toFixed(0)} tokens/s)`);
      setRunning(false);
      break;
    case 'adapter':
      state.adapter = m;
      offerDownload(m.files);
      break;
    case 'error':
      showError(m.message);
      status('');
      setRunning(false, state.stopped !== null);
      break;
  }
};

/** The files of a dropped folder, with their paths (a File from a drop does not know its folder). */
async function droppedFiles(items: DataTransferItemList): Promise<{ path: string; file: File }[]> {
  const out: { path: string; file: File }[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ path: `${prefix}${entry.name}`, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  };
  for (const entry of [...items].map((item) => item.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null)) await walk(entry, '');
  return out;
}

function loadFolder(files: { path: string; file: File }[]): void {
  if (files.length === 0) return;
  ($('form') as HTMLFormElement).querySelector<HTMLInputElement>('input[name=model][value=folder]')!.checked = true;
  showError(null);
  status(`loading ${files.length} files…`);
  send({ type: 'load', model: { kind: 'files', files } });
}

$('model-files').addEventListener('change', () => {
  const input = $('model-files') as HTMLInputElement;
  loadFolder([...(input.files ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file })));
});

const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer) void droppedFiles(e.dataTransfer.items).then(loadFolder, (error: Error) => showError(error.message));
});

document.querySelectorAll<HTMLInputElement>('input[name=model]').forEach((radio) => radio.addEventListener('change', () => {
  if (radio.value === 'demo' && radio.checked) {
    status('loading the demo model…');
    send({ type: 'load', model: { kind: 'url', url: DEMO_MODEL } });
  }
}));

$('form').addEventListener('submit', (e) => {
  e.preventDefault();
  showError(null);
  const form = $('form') as HTMLFormElement;
  const useFile = form.querySelector<HTMLInputElement>('input[name=data][value=file]')!.checked;
  const file = ($('data-file') as HTMLInputElement).files?.[0];
  if (useFile && !file) {
    showError('choose a JSONL file, or the demo\'s questions');
    return;
  }
  state.trainLoss = [];
  state.evalLoss = [];
  state.before = state.after = state.adapter = state.done = null;
  state.tokens = state.seconds = 0;
  state.stepTimes = [];
  state.stopped = null;
  $('chart').replaceChildren();
  setRunning(true);
  const value = (id: string): string => ($(id) as HTMLInputElement).value;
  send({
    type: 'train',
    data: useFile && file ? { kind: 'file', file } : { kind: 'demo', train: `${DEMO_DATA}train.jsonl`, eval: `${DEMO_DATA}eval.jsonl` },
    settings: { method: method(), r: value('r'), steps: value('steps'), lr: value('lr') },
    snapshotSteps: (params.get('snapshot') ?? '').split(',').filter((s) => s !== '').map(Number),
  });
});

$('stop').addEventListener('click', () => {
  ($('stop') as HTMLButtonElement).disabled = true;
  status('stopping after the current step…');
  send({ type: 'stop' });
});

$('resume').addEventListener('click', () => {
  showError(null);
  setRunning(true);
  send({ type: 'resume' });
});

const provider = params.get('provider') === 'webgpu' ? 'webgpu' : 'wasm';
($('provider') as HTMLSelectElement).value = provider;
$('provider').addEventListener('change', () => {
  params.set('provider', ($('provider') as HTMLSelectElement).value);
  // onnxruntime-web's runtime is fixed once loaded: another one needs a fresh worker, so a fresh page.
  location.search = params.toString();
});

send({ type: 'init', backend: { executionProvider: provider, numThreads: Number(params.get('threads') ?? 0), wasmPaths: new URL('/ort/', location.href).href } });
