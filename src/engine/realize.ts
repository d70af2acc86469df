/**
 * Realisation: collect the subgraph the requested tensors need, key it by structure (never by
 * data), compile it to ONNX once per structure, feed realised leaves as graph inputs without
 * copying, run once, and hand the outputs back to the tensors.
 */
import { fromRuntimeArray, runtimeDType, toRuntimeArray, type TypedArray } from './dtype.ts';
import { RuntimeFailure } from './errors.ts';
import { GraphBuilder, valuesKey } from './onnx/builder.ts';
import { emitTrace } from './onnx/emit.ts';
import { getBackend, type CompiledGraph, type FeedTensor } from './runtime/backend.ts';
import type { Tensor } from './tensor.ts';

/** Counters the tests read to prove that a repeated step compiles nothing. */
export const engineStats = { compiles: 0, runs: 0, cacheHits: 0, compileMs: 0 };

interface Compiled { graph: CompiledGraph; inputNames: string[]; outputNames: string[] }

/** Called with each graph the engine compiles: its cache key and its ONNX bytes. */
export type GraphListener = (key: string, model: Uint8Array) => void;

let graphListener: GraphListener | null = null;

/**
 * Sees every compiled graph before it runs (the Node layer writes them to BONE_DUMP_ONNX, for
 * Netron); null removes it. Returns the previous listener.
 */
export function setGraphListener(listener: GraphListener | null): GraphListener | null {
  const previous = graphListener;
  graphListener = listener;
  return previous;
}

const cache = new Map<string, Promise<Compiled>>();

let memoryArena = true;

/**
 * Whether graphs compiled from now on keep their run's memory in an arena of their own for the
 * next run (the default), or take it from the process's heap and give it back after each run.
 * Every session keeps its own arena, so a run over many batch shapes holds the sum of their peaks
 * (four lengths at batch 4: 5.3 GB with arenas, 2.6 GB without), and its doubling regions can
 * overshoot (1 × 4096: 6.1 GB against 5.3 GB): Trainer.run trains without (docs/design.md).
 * Returns the previous setting.
 */
export function setMemoryArena(on: boolean): boolean {
  const previous = memoryArena;
  memoryArena = on;
  return previous;
}

/** Storage-only leaves (float16/bfloat16) are converted once per buffer, not once per run. */
const runtimeArrays = new WeakMap<TypedArray, TypedArray>();

/** A traced subgraph: its leaves and its nodes, each in topological order; `index` numbers both together in visit order. */
export interface Trace {
  key: string;
  leaves: Tensor[];
  nodes: Tensor[];
  targets: Tensor[];
  index: Map<Tensor, number>;
}

export function trace(targets: readonly Tensor[]): Trace {
  const index = new Map<Tensor, number>();
  const leaves: Tensor[] = [];
  const nodes: Tensor[] = [];
  const parts: string[] = [];
  const stack: Tensor[] = [];
  const expanded = new Set<Tensor>();
  for (const t of targets) {
    stack.push(t);
    while (stack.length) {
      const cur = stack[stack.length - 1]!;
      if (index.has(cur)) { stack.pop(); continue; }
      if (cur.isRealized) {
        stack.pop();
        index.set(cur, leaves.length + nodes.length);
        leaves.push(cur);
        parts.push(cur.constant
          ? `C${cur.dtype}[${cur.shape.join(',')}]=${valuesKey(cur.storage)}`
          : `I${cur.dtype}[${cur.shape.join(',')}]`);
        continue;
      }
      if (!expanded.has(cur)) {
        expanded.add(cur);
        for (let i = cur.inputs.length - 1; i >= 0; i--) if (!index.has(cur.inputs[i]!)) stack.push(cur.inputs[i]!);
        continue;
      }
      stack.pop();
      let ins = '';
      for (const x of cur.inputs) ins += `${index.get(x)},`;
      index.set(cur, leaves.length + nodes.length);
      nodes.push(cur);
      parts.push(`${cur.signature}(${ins})`);
    }
  }
  parts.push(`->${targets.map((t) => index.get(t)).join(',')}`);
  return { key: parts.join(';'), leaves, nodes, targets: [...targets], index };
}

function emit(tr: Trace): { bytes: Uint8Array; inputNames: string[]; outputNames: string[] } {
  const g = new GraphBuilder();
  const { inputNames, outputNames } = emitTrace(tr, g);
  return { bytes: g.toBytes(), inputNames, outputNames };
}

async function compile(tr: Trace): Promise<Compiled> {
  const t0 = performance.now();
  const { bytes, inputNames, outputNames } = emit(tr);
  graphListener?.(tr.key, bytes);
  const backend = await getBackend();
  let graph: CompiledGraph;
  try {
    const float64 = tr.nodes.some((n) => n.dtype === 'float64') || tr.leaves.some((l) => l.dtype === 'float64');
    graph = await backend.compile(bytes, { float64, memoryArena });
  } catch (e) {
    throw explainFailure(e as Error, tr, 'compiling');
  }
  engineStats.compiles++;
  engineStats.compileMs += performance.now() - t0;
  return { graph, inputNames, outputNames };
}

/** Map an ONNX Runtime error back to the engine op (and the user's call site) that produced the failing node. */
function explainFailure(e: Error, tr: Trace, phase: string): RuntimeFailure {
  const m = /\bn(\d+)_([A-Za-z]+)_\d+/.exec(e.message);
  let where = '';
  if (m) {
    const idx = Number(m[1]);
    // Trace indices interleave leaves and nodes (topological order), so look the node up by index.
    const node = tr.nodes.find((n) => tr.index.get(n) === idx);
    if (node) {
      const ins = node.inputs.map((x) => `${x.dtype}[${x.shape.join(', ')}]`).join(', ');
      const stack = (node.origin?.stack ?? '').split('\n').slice(1)
        .filter((l) => !l.includes('/src/engine/')).slice(0, 6).join('\n');
      where = `\nengine op: ${node.op!.name}(${ins}) -> ${node.dtype}[${node.shape.join(', ')}], ONNX node ${m[0]}\n`
        + (node.origin ? `created at:\n${stack}` : 'set BONE_DEBUG=1 (or call setCaptureOrigins(true)) to see the line of code that created this op');
    }
  }
  const err = new RuntimeFailure(`ONNX Runtime failed while ${phase} a graph: ${e.message}${where}`);
  err.cause = e;
  return err;
}

/** Realise the tensors: afterwards each owns its data. Tensors already realised are left alone. */
export async function realize(tensors: readonly Tensor[]): Promise<void> {
  const targets = [...new Set(tensors.filter((t) => !t.isRealized))];
  if (targets.length === 0) return;
  const tr = trace(targets);
  let entry = cache.get(tr.key);
  if (entry) engineStats.cacheHits++;
  else {
    entry = compile(tr);
    cache.set(tr.key, entry);
    entry.catch(() => cache.delete(tr.key));
  }
  const compiled = await entry;
  const feeds: Record<string, FeedTensor> = {};
  let k = 0;
  for (const leaf of tr.leaves) {
    if (leaf.constant) continue;
    feeds[compiled.inputNames[k++]!] = { dtype: runtimeDType(leaf.dtype), dims: leaf.shape, data: runtimeArray(leaf) };
  }
  let outs: TypedArray[];
  try {
    outs = await compiled.graph.run(feeds, compiled.outputNames);
  } catch (e) {
    throw explainFailure(e as Error, tr, 'running');
  }
  engineStats.runs++;
  targets.forEach((t, i) => t.setBuffer(fromRuntimeArray(outs[i]!, t.dtype)));
}

function runtimeArray(leaf: Tensor): TypedArray {
  const data = leaf.storage;
  if (runtimeDType(leaf.dtype) === leaf.dtype) return data;
  let conv = runtimeArrays.get(data);
  if (!conv) { conv = toRuntimeArray(data, leaf.dtype); runtimeArrays.set(data, conv); }
  return conv;
}

/** Drop every compiled graph (frees ONNX Runtime sessions). */
export async function clearCompiledGraphs(): Promise<void> {
  const entries = [...cache.values()];
  cache.clear();
  for (const e of entries) await (await e.catch(() => null))?.graph.release();
}
