/**
 * One ONNX graph for every size of some dimensions (batch, sequence length, ...), from the engine's
 * ordinary, concretely-shaped graphs.
 *
 * Engine ops check and record concrete shapes, and their lowerings write sizes into int64
 * constants (Reshape and Expand targets, Range bounds, ConstantOfShape shapes). Rather than teach
 * every op a symbolic shape algebra, the graph is traced at several sizes of the symbolic
 * dimensions, and the traces are compared: they must have the same nodes and wiring; an int64
 * constant that differs between traces is a function of the sizes, which is fitted exactly as a
 * polynomial of degree ≤ 2 (e.g. batch·seq for a flattened Linear input, past + seq for the keys)
 * and then computed in the exported graph from the inputs' run-time shapes (Shape → Gather → Mul/Add).
 * Graph inputs and outputs get named dimensions (ONNX dim_param) for the sizes that vary.
 *
 * Anything that cannot be expressed that way is refused with the op that holds it: a constant whose
 * own shape depends on the sizes (an index table computed in JavaScript), a non-int64 constant that
 * varies, an attribute that varies, or a structure that changes with the sizes.
 */
import { EngineError } from '../errors.ts';
import { trace } from '../realize.ts';
import type { Tensor } from '../tensor.ts';
import { GraphBuilder, type OnnxGraph, type OnnxInitializer, type OnnxNode } from './builder.ts';
import { emitTrace, type LeafRole } from './emit.ts';

export interface NamedTensor {
  name: string;
  tensor: Tensor;
}

export interface SymbolicGraphSpec {
  /** The dimensions that vary, by the names they get in the graph (e.g. batch_size, sequence_length). */
  symbols: readonly string[];
  /**
   * Builds the graph for the given sizes: its inputs (realised placeholder tensors, whose data is
   * never read) and its outputs. Called several times, with sizes from 2 to about 16.
   */
  build(sizes: Readonly<Record<string, number>>): { inputs: readonly NamedTensor[]; outputs: readonly NamedTensor[] };
  /** Name of a weight (a realised leaf that is not an input), e.g. its state-dict key; default `weight<k>`. */
  weightName?(leaf: Tensor, k: number): string | undefined;
  /**
   * Store the float32 weights that `weightName` names as float16 (half the file; each is cast back
   * to float32 in the graph). Unnamed buffers (rotary frequencies, ...) keep their precision.
   */
  storeWeightsAs?: 'float32' | 'float16';
  /** dim_param names for sizes that are formulas of the symbols, keyed by formula ("past_sequence_length + sequence_length"). */
  dimNames?: Readonly<Record<string, string>>;
}

/** A polynomial of the symbols with integer coefficients: monomial ("" for the constant, "a*b") → coefficient. */
type Poly = Map<string, number>;

const FIT_TOLERANCE = 1e-6;

/** The graph of `spec.build`, with the symbolic dimensions left free. */
export function emitSymbolicGraph(spec: SymbolicGraphSpec): OnnxGraph {
  const symbols = [...spec.symbols];
  if (symbols.length === 0) throw new EngineError('emitSymbolicGraph: expected at least one symbolic dimension');
  const monomials = monomialsOf(symbols);
  const points = tracePoints(symbols.length);

  // 1. Trace at every point, weights as plain inputs (no data is touched), and line the traces up.
  const traces = points.map((p) => traceAt(spec, sizesOf(symbols, p), 'fit'));
  const first = traces[0]!;
  for (let t = 1; t < traces.length; t++) compareStructure(first, traces[t]!, symbols, points[0]!, points[t]!);

  // 2. Fit every int64 constant that varies, and every input/output dim.
  const fit = (values: readonly number[], what: string): Poly => fitPolynomial(values, points, symbols, monomials, what);
  const symbolic = new Map<string, { dims: number[]; polys: Poly[] }>();
  first.graph.initializer.forEach((init, i) => {
    const all = traces.map((t) => t.graph.initializer[i]!);
    if (all.every((x) => sameBytes(x, init))) return;
    const where = `the constant ${init.name} (read by ${consumers(first.graph.node, init.name)})`;
    if (all.some((x) => x.dims.join() !== init.dims.join())) {
      throw new EngineError(`emitSymbolicGraph: ${where} has a shape that depends on ${symbols.join(', ')} `
        + `([${all.map((x) => `[${x.dims.join(', ')}]`).join(', ')}] at the traced sizes): compute it in the graph instead`);
    }
    if (init.dataType !== 7) throw new EngineError(`emitSymbolicGraph: ${where} is not int64 (ONNX type ${init.dataType}) and depends on ${symbols.join(', ')}: only int64 sizes can be symbolic`);
    const values = all.map((x) => Array.from(int64Values(x), Number));
    const polys = values[0]!.map((_, e) => fit(values.map((v) => v[e]!), `${where}, element ${e}`));
    symbolic.set(init.name, { dims: init.dims, polys });
  });
  const dimPolys = (kind: 'input' | 'output'): Poly[][] => first.graph[kind].map((v, j) => v.dims.map((_, a) =>
    fit(traces.map((t) => t.graph[kind][j]!.dims[a] as number), `dim ${a} of the graph ${kind} ${v.name}`)));
  const inputPolys = dimPolys('input');
  const outputPolys = dimPolys('output');
  const dimOf = (p: Poly): number | string => {
    if (p.size === 0) return 0;
    if (p.size === 1 && p.has('')) return p.get('')!;
    const formula = formatPoly(p, symbols);
    return spec.dimNames?.[formula] ?? formula;
  };

  // 3. Emit once more with the real weights and replace the symbolic constants by computed ones.
  const final = traceAt(spec, sizesOf(symbols, points[0]!), 'final');
  const finalConsts = final.graph.initializer.filter((x) => !final.weightNames.has(x.name));
  const fitConsts = first.graph.initializer;
  if (finalConsts.length !== fitConsts.length || finalConsts.some((x, i) => !sameBytes(x, fitConsts[i]!) || x.name !== fitConsts[i]!.name)) {
    throw new EngineError('emitSymbolicGraph: the graph with its weights has other constants than the traced graphs (a weight changed the lowering)');
  }
  const sources = symbolSources(first, symbols, inputPolys);
  const prelude = new GraphBuilder({ prefix: 'dims_' });
  const computed = computeConstants(prelude, symbolic, sources);
  const input = final.graph.input.map((v, j) => ({ ...v, dims: inputPolys[j]!.map(dimOf) }));
  const output = final.graph.output.map((v, j) => ({ ...v, dims: outputPolys[j]!.map(dimOf) }));
  const preludeGraph = prelude.toGraph();
  return {
    node: [...preludeGraph.node, ...computed, ...final.graph.node],
    initializer: [...final.graph.initializer.filter((x) => !symbolic.has(x.name)), ...preludeGraph.initializer],
    input,
    output,
  };
}

// ---- tracing ---------------------------------------------------------------------------------------

interface Traced {
  graph: OnnxGraph;
  /** The realised leaves that are not inputs, in trace order (model weights: the same objects in every trace). */
  weights: Tensor[];
  /** Their initializer names (final trace only). */
  weightNames: Set<string>;
}

function traceAt(spec: SymbolicGraphSpec, sizes: Record<string, number>, mode: 'fit' | 'final'): Traced {
  const { inputs, outputs } = spec.build(sizes);
  const inputOf = new Map(inputs.map((x) => [x.tensor, x.name]));
  for (const x of inputs) {
    if (!x.tensor.isRealized || x.tensor.constant) throw new EngineError(`emitSymbolicGraph: input ${x.name} must be a realised placeholder tensor (not a lazy node or an embedded constant)`);
  }
  const tr = trace(outputs.map((o) => o.tensor));
  const g = new GraphBuilder({ shareConstants: false });
  const weights: Tensor[] = [];
  const weightNames = new Set<string>();
  const leaf = (t: Tensor): LeafRole => {
    const name = inputOf.get(t);
    if (name !== undefined) return { input: name };
    const k = weights.length;
    weights.push(t);
    const given = spec.weightName?.(t, k);
    let weightName = given ?? `weight${k}`;
    if (weightNames.has(weightName)) weightName = `${weightName}.${k}`;
    weightNames.add(weightName);
    // Fitting traces read no weight data: a weight is an input there, an initializer in the final graph.
    if (mode === 'fit') return { input: `weight:${k}` };
    return { initializer: weightName, ...(spec.storeWeightsAs === 'float16' && given !== undefined ? { storeAs: 'float16' as const } : {}) };
  };
  const emitted = emitTrace(tr, g, { leaf, outputNames: outputs.map((o) => o.name) });
  const missing = inputs.filter((x) => !emitted.inputNames.includes(x.name)).map((x) => x.name);
  if (missing.length) throw new EngineError(`emitSymbolicGraph: the outputs do not depend on the input(s) ${missing.join(', ')}`);
  const graph = g.toGraph();
  // Inputs in the declared order, weights (fitting traces) after them.
  const rank = (n: string): number => { const i = inputs.findIndex((x) => x.name === n); return i < 0 ? inputs.length : i; };
  graph.input.sort((a, b) => rank(a.name) - rank(b.name));
  if (mode === 'fit') graph.input = graph.input.filter((v) => !v.name.startsWith('weight:'));
  return { graph, weights, weightNames };
}

function compareStructure(a: Traced, b: Traced, symbols: readonly string[], pa: readonly number[], pb: readonly number[]): void {
  const at = `traced at ${formatSizes(symbols, pa)} and at ${formatSizes(symbols, pb)}`;
  const fail = (what: string): never => {
    throw new EngineError(`emitSymbolicGraph: the graph's structure depends on the sizes of ${symbols.join(', ')} (${at}): ${what}`);
  };
  if (a.graph.node.length !== b.graph.node.length) fail(`${a.graph.node.length} nodes against ${b.graph.node.length}`);
  a.graph.node.forEach((n, i) => {
    const m = b.graph.node[i]!;
    if (n.opType !== m.opType || n.input.join() !== m.input.join() || n.output.join() !== m.output.join()) {
      fail(`node ${i} is ${n.opType}(${n.input.join(', ')}) against ${m.opType}(${m.input.join(', ')})`);
    }
    if (JSON.stringify(n.attribute) !== JSON.stringify(m.attribute)) {
      fail(`the attributes of node ${n.name} (${n.opType}) differ: an op writes a size into an attribute; lower it as an input`);
    }
  });
  if (a.graph.initializer.length !== b.graph.initializer.length) fail(`${a.graph.initializer.length} constants against ${b.graph.initializer.length}`);
  if (a.graph.input.map((x) => x.name).join() !== b.graph.input.map((x) => x.name).join()) fail('the graph inputs differ');
  if (a.weights.length !== b.weights.length) fail(`${a.weights.length} realised tensors read against ${b.weights.length}`);
  a.weights.forEach((w, k) => {
    const v = b.weights[k]!;
    if (w === v) return;
    if (w.shape.join() !== v.shape.join() || !sameData(w, v)) {
      fail(`a realised tensor (${w.dtype}[${w.shape.join(', ')}] against ${v.dtype}[${v.shape.join(', ')}]) was computed outside the graph from the sizes: `
        + 'make it a declared input or compute it with ops');
    }
  });
}

// ---- fitting -----------------------------------------------------------------------------------------

/** 1, each symbol, each product of two (with squares): what sizes inside a decoder's graph are made of. */
function monomialsOf(symbols: readonly string[]): string[][] {
  const out: string[][] = [[]];
  for (const s of symbols) out.push([s]);
  symbols.forEach((s, i) => symbols.slice(i).forEach((t) => out.push([s, t])));
  return out;
}

/**
 * The trace sizes: base + a for every a ≥ 0 with |a| ≤ 2 (a set on which a polynomial of degree 2
 * is determined by its values), and two more points to check the fits. Sizes stay ≥ 3, so that no
 * size-1 shortcut (a skipped reshape) makes traces differ.
 */
function tracePoints(k: number): number[][] {
  const base = Array.from({ length: k }, (_, i) => 3 + 4 * i);
  const shift = (a: readonly number[]): number[] => base.map((b, i) => b + a[i]!);
  const unit = (i: number, n = 1): number[] => base.map((_, j) => (j === i ? n : 0));
  const points = [shift(unit(-1, 0))];
  for (let i = 0; i < k; i++) points.push(shift(unit(i)), shift(unit(i, 2)));
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) points.push(shift(base.map((_, m) => (m === i || m === j ? 1 : 0))));
  // Checks: outside the set above (|a| > 2), so a wrong fit cannot pass by coinciding with it.
  points.push(shift(base.map((_, i) => 3 + (i % 2))), shift(base.map((_, i) => 4 - (i % 2))));
  return points;
}

function sizesOf(symbols: readonly string[], point: readonly number[]): Record<string, number> {
  return Object.fromEntries(symbols.map((s, i) => [s, point[i]!]));
}

function fitPolynomial(values: readonly number[], points: readonly number[][], symbols: readonly string[], monomials: readonly string[][], what: string): Poly {
  const poly: Poly = new Map();
  if (values.every((v) => v === values[0])) {
    if (values[0] !== 0) poly.set('', values[0]!);
    return poly;
  }
  const evalMono = (m: readonly string[], p: readonly number[]): number => m.reduce((acc, s) => acc * p[symbols.indexOf(s)]!, 1);
  // Solve on the first |monomials| points (they determine the polynomial), check on all of them.
  const n = monomials.length;
  const a = points.slice(0, n).map((p, r) => [...monomials.map((m) => evalMono(m, p)), values[r]!]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let j = c; j <= n; j++) a[r]![j]! -= f * a[c]![j]!;
    }
  }
  const coefficients = a.map((row, c) => row[n]! / row[c]!);
  const fail = (): never => {
    throw new EngineError(`emitSymbolicGraph: ${what} takes the values [${values.join(', ')}] at the sizes `
      + `${points.map((p) => `(${p.join(', ')})`).join(', ')} of (${symbols.join(', ')}), which no polynomial of degree ≤ 2 with integer coefficients gives`);
  };
  monomials.forEach((m, i) => {
    const c = coefficients[i]!;
    if (Math.abs(c - Math.round(c)) > FIT_TOLERANCE) fail();
    if (Math.round(c) !== 0) poly.set(m.join('*'), Math.round(c));
  });
  points.forEach((p, r) => {
    let v = 0;
    for (const [m, c] of poly) v += c * (m === '' ? 1 : m.split('*').reduce((acc, s) => acc * p[symbols.indexOf(s)]!, 1));
    if (v !== values[r]) fail();
  });
  return poly;
}

/** "past_sequence_length + sequence_length", "batch_size*sequence_length", "2*sequence_length - 1". */
export function formatPoly(poly: Poly, symbols: readonly string[]): string {
  const order = (m: string): number => (m === '' ? Infinity : m.split('*').reduce((acc, s) => acc * 16 + symbols.indexOf(s) + 1, 0));
  const terms = [...poly].sort((x, y) => order(x[0]) - order(y[0]));
  let out = '';
  for (const [m, c] of terms) {
    const abs = Math.abs(c);
    const body = m === '' ? String(abs) : abs === 1 ? m : `${abs}*${m}`;
    out += out === '' ? (c < 0 ? `-${body}` : body) : c < 0 ? ` - ${body}` : ` + ${body}`;
  }
  return out === '' ? '0' : out;
}

function formatSizes(symbols: readonly string[], point: readonly number[]): string {
  return symbols.map((s, i) => `${s}=${point[i]}`).join(', ');
}

// ---- computing the sizes at run time ---------------------------------------------------------------

interface Source { input: string; axis: number }

/** For each symbol, an input dimension that is exactly that symbol (batch_size: input_ids' dim 0). */
function symbolSources(t: Traced, symbols: readonly string[], inputPolys: readonly Poly[][]): Map<string, Source> {
  const sources = new Map<string, Source>();
  for (const s of symbols) {
    t.graph.input.forEach((v, j) => inputPolys[j]!.forEach((p, axis) => {
      if (!sources.has(s) && p.size === 1 && p.get(s) === 1) sources.set(s, { input: v.name, axis });
    }));
  }
  return sources;
}

function computeConstants(g: GraphBuilder, symbolic: Map<string, { dims: number[]; polys: Poly[] }>, sources: Map<string, Source>): OnnxNode[] {
  const shapes = new Map<string, string>();
  const scalars = new Map<string, string>();
  const symbolValue = (s: string): string => {
    let v = scalars.get(s);
    if (v) return v;
    const src = sources.get(s);
    if (!src) throw new EngineError(`emitSymbolicGraph: no graph input has a dimension that is exactly ${s}, so its size cannot be read at run time`);
    let shape = shapes.get(src.input);
    if (!shape) { shape = g.node('Shape', [src.input]); shapes.set(src.input, shape); }
    v = g.node('Gather', [shape, g.constI64([src.axis], true)], { axis: 0 });
    scalars.set(s, v);
    return v;
  };
  const monomialValue = (m: string): string => {
    let v = scalars.get(m);
    if (v) return v;
    const [x, y] = m.split('*') as [string, string | undefined];
    v = y === undefined ? symbolValue(x) : g.node('Mul', [symbolValue(x), symbolValue(y)]);
    scalars.set(m, v);
    return v;
  };
  const polyValue = (p: Poly): string => {
    let acc: string | null = null;
    for (const [m, c] of p) {
      if (m === '') continue;
      const term = c === 1 ? monomialValue(m) : g.node('Mul', [monomialValue(m), g.constI64([c], true)]);
      acc = acc === null ? term : g.node('Add', [acc, term]);
    }
    const c0 = p.get('') ?? 0;
    if (acc === null) return g.constI64([c0], true);
    return c0 === 0 ? acc : g.node('Add', [acc, g.constI64([c0], true)]);
  };
  const identities: OnnxNode[] = [];
  for (const [name, { dims, polys }] of symbolic) {
    let value: string;
    if (dims.length === 0) value = polyValue(polys[0]!);
    else {
      const parts = polys.map((p) => (p.size === 0 || (p.size === 1 && p.has(''))
        ? g.constI64([p.get('') ?? 0])
        : g.node('Unsqueeze', [polyValue(p), g.constI64([0])])));
      value = parts.length === 1 ? parts[0]! : g.node('Concat', parts, { axis: 0 });
      if (dims.length > 1) value = g.node('Reshape', [value, g.constI64(dims)]);
    }
    identities.push({ name: `dims_${name}`, opType: 'Identity', input: [value], output: [name], domain: '', attribute: [] });
  }
  return identities;
}

// ---- small helpers ------------------------------------------------------------------------------------

function sameBytes(a: OnnxInitializer, b: OnnxInitializer): boolean {
  if (a.dataType !== b.dataType || a.dims.join() !== b.dims.join()) return false;
  const x = a.rawData!;
  const y = b.rawData!;
  if (x.byteLength !== y.byteLength) return false;
  if (x.buffer === y.buffer && x.byteOffset === y.byteOffset) return true;
  for (let i = 0; i < x.byteLength; i++) if (x[i] !== y[i]) return false;
  return true;
}

function sameData(a: Tensor, b: Tensor): boolean {
  const x = a.storage;
  const y = b.storage;
  if (x.length !== y.length || a.dtype !== b.dtype) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

function int64Values(init: OnnxInitializer): BigInt64Array {
  const raw = init.rawData!;
  const copy = raw.slice();
  return new BigInt64Array(copy.buffer, 0, copy.byteLength / 8);
}

function consumers(nodes: readonly OnnxNode[], value: string): string {
  const users = nodes.filter((n) => n.input.includes(value)).map((n) => `${n.opType} ${n.name}`);
  return users.length ? users.join(', ') : 'no node';
}
