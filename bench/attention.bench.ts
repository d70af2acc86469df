/**
 * Causal attention alone, forward and backward, at SmolLM2-135M's attention shape (9 query heads
 * over 3 key/value heads of 64), to choose how the engine computes it (npm run bench:attention):
 *
 *   blocks   the engine's blocked attention (ops.blockedCausalAttention) at several query/key block
 *            sizes, beside the composite (probabilities kept) and the recompute op
 *            (ops.scaledDotProductAttention), one graph each: loss = Σ out·R, gradients of q, k, v.
 *   forward  the forward pass alone: the blocked forward against ONNX Runtime's own attention
 *            kernels on the CPU (com.microsoft MultiHeadAttention and GroupQueryAttention, ONNX's
 *            Attention of opset 23) and against the blocked loop written as an ONNX Loop.
 *
 *   node --import tsx bench/attention.bench.ts [--only blocks,forward] [--lengths 1024,2048]
 *     [--blocks 128x0,256x0,256x256] [--reps 5]
 *
 * Variants alternate within each round (A B C … A B C …), so that background load hits all alike;
 * medians are reported. Results: bench/out/attention.json.
 */
import '../src/node/install.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { Tensor, grad, realize, ops, clearCompiledGraphs } from '../src/engine/index.ts';
import { GraphBuilder } from '../src/engine/onnx/builder.ts';
import { ModelProto } from '../src/engine/onnx/proto.ts';
import { ortSessionOptions } from '../src/node/ort-node.ts';
import { loadAverage, machineInfo, median, now, randomFloats, table } from './util.ts';

const { values: args } = parseArgs({
  options: {
    only: { type: 'string', default: 'blocks,forward' },
    lengths: { type: 'string', default: '256,1024,2048,4096' },
    blocks: { type: 'string', default: '64x0,128x0,256x0,512x0,128x128,256x256,256x512' },
    reps: { type: 'string', default: '5' },
    threads: { type: 'string', default: '' },
  },
});
if (args.threads) process.env.BONE_THREADS = args.threads;
const sections = new Set(args.only!.split(','));
const lengths = args.lengths!.split(',').map(Number);
const blockSizes = args.blocks!.split(',').map((b) => b.split('x').map(Number) as [number, number]);
const reps = Number(args.reps);
const H = 9;
const HKV = 3;
const D = 64;
const log = (s = ''): void => { process.stdout.write(`${s}\n`); };

/** Batch 4 at 256 tokens (the tidy benchmark), 1 beyond. */
const batchFor = (T: number): number => (T <= 256 ? 4 : 1);

interface Variant { name: string; run: () => Promise<void> }

async function alternate(variants: Variant[]): Promise<Map<string, number[]>> {
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (const v of variants) await v.run(); // compile + first run (memory pattern)
  for (const v of variants) await v.run();
  for (let r = 0; r < reps; r++) {
    for (const v of variants) {
      const t0 = now();
      await v.run();
      times.get(v.name)!.push(now() - t0);
    }
  }
  return times;
}

// ---- blocks: the engine's variants, forward + backward ----------------------------------------

function engineVariant(name: string, T: number, attend: (q: Tensor, k: Tensor, v: Tensor) => Tensor): Variant {
  const B = batchFor(T);
  const q = Tensor.fromData(randomFloats(B * H * T * D, 1, 1), [B, H, T, D]);
  const k = Tensor.fromData(randomFloats(B * HKV * T * D, 1, 2), [B, HKV, T, D]);
  const v = Tensor.fromData(randomFloats(B * HKV * T * D, 1, 3), [B, HKV, T, D]);
  const R = Tensor.fromData(randomFloats(B * H * T * D, 1, 4), [B, H, T, D]);
  return {
    name,
    run: async () => {
      const loss = attend(q, k, v).mul(R).sum();
      await realize([loss, ...grad(loss, [q, k, v])]);
    },
  };
}

async function blocksSection(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const T of lengths) {
    const variants: Variant[] = [];
    // The full-matrix paths hold [B, 9, T, T] several times over: 4096² would take ≈ 2 GB each.
    if (T <= 2048) {
      variants.push(engineVariant('composite', T, (q, k, v) => ops.scaledDotProductAttention(q, k, v, { causal: true })));
      variants.push(engineVariant('recompute', T, (q, k, v) => ops.scaledDotProductAttention(q, k, v, { causal: true, recompute: true })));
    }
    for (const [qb, kb] of blockSizes) {
      if (qb > T || kb > T) continue;
      variants.push(engineVariant(`blocked ${qb}×${kb || 'all'}`, T, (q, k, v) => ops.blockedCausalAttention(q, k, v, { queryBlock: qb, keyBlock: kb })));
    }
    const load0 = loadAverage();
    const times = await alternate(variants);
    await clearCompiledGraphs();
    const base = median(times.get(variants.find((v) => v.name.startsWith('blocked'))!.name)!);
    for (const v of variants) {
      const t = median(times.get(v.name)!);
      rows.push({ section: 'blocks', T, batch: batchFor(T), variant: v.name, ms: t, all: times.get(v.name), relative: t / base, load: [load0, loadAverage()] });
    }
    log(`\nforward + backward, [${batchFor(T)}, ${H}/${HKV} heads, ${T}, ${D}] (median of ${reps}, ms; load ${load0.toFixed(1)} → ${loadAverage().toFixed(1)})`);
    log(table(['variant', 'ms', 'runs'], variants.map((v) => [v.name, median(times.get(v.name)!).toFixed(1), times.get(v.name)!.map((x) => x.toFixed(0)).join(' ')])));
  }
  return rows;
}

// ---- forward: ONNX Runtime's kernels and an ONNX Loop ----------------------------------------

/** A session for hand-built model bytes, with the engine's session options. */
async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, ortSessionOptions());
}

function feedsFor(T: number, layout: 'bhtd' | 'btd'): Record<string, ort.Tensor> {
  const B = batchFor(T);
  const shape = (h: number): number[] => (layout === 'bhtd' ? [B, h, T, D] : [B, T, h * D]);
  return {
    q: new ort.Tensor('float32', randomFloats(B * H * T * D, 1, 1), shape(H)),
    k: new ort.Tensor('float32', randomFloats(B * HKV * T * D, 1, 2), shape(HKV)),
    v: new ort.Tensor('float32', randomFloats(B * HKV * T * D, 1, 3), shape(HKV)),
  };
}

/** com.microsoft GroupQueryAttention: causal by definition, keys/values not repeated. */
function gqaModel(T: number): Uint8Array {
  const B = batchFor(T);
  const g = new GraphBuilder();
  g.addInput('q', 'float32', [B, T, H * D]);
  g.addInput('k', 'float32', [B, T, HKV * D]);
  g.addInput('v', 'float32', [B, T, HKV * D]);
  const seqlensK = g.constTensor('int32', [B], new Int32Array(B).fill(T - 1));
  const total = g.constTensor('int32', [], Int32Array.of(T));
  const [out] = g.nodeMulti('GroupQueryAttention', ['q', 'k', 'v', '', '', seqlensK, total], 3, { num_heads: H, kv_num_heads: HKV }, 'com.microsoft');
  g.addOutput(out!, 'out', 'float32', [B, T, H * D]);
  return g.toBytes();
}

/** com.microsoft MultiHeadAttention (no GQA: keys and values repeated to 9 heads first) with unidirectional masking. */
function mhaModel(T: number): Uint8Array {
  const B = batchFor(T);
  const g = new GraphBuilder();
  g.addInput('q', 'float32', [B, T, H * D]);
  g.addInput('k', 'float32', [B, T, HKV * D]);
  g.addInput('v', 'float32', [B, T, HKV * D]);
  const repeat = (x: string): string => {
    const x5 = g.node('Reshape', [x, g.constI64([B, T, HKV, 1, D])]);
    return g.node('Reshape', [g.node('Expand', [x5, g.constI64([B, T, HKV, H / HKV, D])]), g.constI64([B, T, H * D])]);
  };
  const out = g.node('MultiHeadAttention', ['q', repeat('k'), repeat('v')], { num_heads: H, unidirectional: 1 }, 'com.microsoft');
  g.addOutput(out, 'out', 'float32', [B, T, H * D]);
  return g.toBytes();
}

/** ONNX Attention (opset 23), causal, grouped-query heads, [B, H, T, D] inputs. */
function onnxAttentionModel(T: number): Uint8Array {
  const B = batchFor(T);
  const g = new GraphBuilder();
  g.addInput('q', 'float32', [B, H, T, D]);
  g.addInput('k', 'float32', [B, HKV, T, D]);
  g.addInput('v', 'float32', [B, HKV, T, D]);
  const out = g.node('Attention', ['q', 'k', 'v'], { is_causal: 1 });
  g.addOutput(out, 'out', 'float32', [B, H, T, D]);
  const m = ModelProto.decode(g.toBytes()) as unknown as { opsetImport: { domain: string; version: number }[] };
  m.opsetImport = m.opsetImport.map((o) => (o.domain === '' ? { domain: '', version: 23 } : o));
  return ModelProto.encode(m as never).finish();
}

/** The engine's blocked forward alone, as the engine emits it (through a realize with a dumped model). */
function engineForward(T: number, qb: number, kb: number): Variant {
  const B = batchFor(T);
  const q = Tensor.fromData(randomFloats(B * H * T * D, 1, 1), [B, H, T, D]);
  const k = Tensor.fromData(randomFloats(B * HKV * T * D, 1, 2), [B, HKV, T, D]);
  const v = Tensor.fromData(randomFloats(B * HKV * T * D, 1, 3), [B, HKV, T, D]);
  return { name: `engine blocked forward ${qb}×${kb || 'all'}`, run: async () => { await realize([ops.blockedCausalAttention(q, k, v, { queryBlock: qb, keyBlock: kb })]); } };
}

/**
 * The same blocked forward as an ONNX Loop over query blocks: the body slices its query block and
 * the keys it sees (a length that grows with the iteration), masks the diagonal block, softmaxes
 * and multiplies; the loop's scan output stacks the blocks. Built with a protobuf descriptor that
 * adds GraphProto attributes to the engine's (which has none).
 */
function loopModel(T: number, qb: number): Uint8Array {
  const B = batchFor(T);
  const G = H / HKV;
  const n = T / qb;
  const body = new GraphBuilder();
  body.addInput('i', 'int64', []);
  body.addInput('cond', 'bool', []);
  const qs = body.node('Mul', ['i', body.constI64([qb], true)]);
  const qe = body.node('Add', [qs, body.constI64([qb], true)]);
  const un = (x: string): string => body.node('Unsqueeze', [x, body.constI64([0])]);
  const q5 = body.node('Reshape', ['q', body.constI64([B, HKV, G, T, D])]);
  const qi = body.node('Reshape', [body.node('Slice', [q5, un(qs), un(qe), body.constI64([3])]), body.constI64([B, HKV, G * qb, D])]);
  const kv = body.node('Slice', ['k', body.constI64([0]), un(qe), body.constI64([2])]);
  const vv = body.node('Slice', ['v', body.constI64([0]), un(qe), body.constI64([2])]);
  const s = body.node('Mul', [body.node('MatMul', [qi, body.node('Transpose', [kv], { perm: [0, 1, 3, 2] })]), body.constScalar(1 / Math.sqrt(D), 'float32')]);
  const rows = body.node('Add', [body.node('Range', [qs, qe, body.constI64([1], true)]), body.constI64([0], true)]);
  const cols = body.node('Range', [body.constI64([0], true), qe, body.constI64([1], true)]);
  const allowed = body.node('LessOrEqual', [body.node('Unsqueeze', [cols, body.constI64([0])]), body.node('Unsqueeze', [rows, body.constI64([1])])]);
  const s5 = body.node('Reshape', [s, body.constI64([B, HKV, G, qb, -1])]);
  const masked = body.node('Where', [allowed, s5, body.constScalar(-3.4e38, 'float32')]);
  const p = body.node('Reshape', [body.node('Softmax', [masked], { axis: -1 }), body.constI64([B, HKV, G * qb, -1])]);
  const o = body.node('Reshape', [body.node('MatMul', [p, vv]), body.constI64([B, HKV, G, qb, D])]);
  body.addOutput(body.node('Identity', ['cond']), 'cond_out', 'bool', []);
  body.addOutput(o, 'block', 'float32', [B, HKV, G, qb, D]);
  const bodyProto = ModelProto.decode(body.toBytes()) as unknown as { graph: Record<string, unknown> };

  const root = protobuf.Root.fromJSON(loopDescriptor());
  const Model = root.lookupType('onnx.ModelProto');
  const main = {
    node: [
      { name: 'loop', opType: 'Loop', input: ['n', 'true'], output: ['blocks'], domain: '', attribute: [{ name: 'body', type: 5, g: bodyProto.graph }] },
      // [n, B, Hkv, G, qb, D] → [B, Hkv, G, n·qb, D] → [B, H, T, D]
      { name: 'perm', opType: 'Transpose', input: ['blocks'], output: ['perm_out'], domain: '', attribute: [{ name: 'perm', type: 7, ints: [1, 2, 3, 0, 4, 5] }] },
      { name: 'reshape', opType: 'Reshape', input: ['perm_out', 'shape'], output: ['out'], domain: '', attribute: [] },
    ],
    name: 'loop-attention',
    initializer: [
      { name: 'n', dims: [], dataType: 7, rawData: new Uint8Array(BigInt64Array.of(BigInt(n)).buffer) },
      { name: 'true', dims: [], dataType: 9, rawData: Uint8Array.of(1) },
      { name: 'shape', dims: [4], dataType: 7, rawData: new Uint8Array(BigInt64Array.from([B, H, T, D].map(BigInt)).buffer) },
    ],
    input: ['q', 'k', 'v'].map((name, j) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [B, j ? HKV : H, T, D].map((d) => ({ dimValue: d })) } } } })),
    output: [{ name: 'out', type: { tensorType: { elemType: 1, shape: { dim: [B, H, T, D].map((d) => ({ dimValue: d })) } } } }],
  };
  const model = Model.fromObject({ irVersion: 8, producerName: 'bone-peft bench', opsetImport: [{ domain: '', version: 18 }], graph: main });
  return Model.encode(model).finish();
}

/** The engine's ONNX descriptor (src/engine/onnx/proto.ts) with GraphProto-valued attributes added, for the Loop body. */
function loopDescriptor(): protobuf.INamespace {
  const json = (ModelProto.root as protobuf.Root).toJSON() as { nested: { onnx: { nested: Record<string, { fields: Record<string, unknown> }> } } };
  json.nested.onnx.nested.AttributeProto!.fields.g = { type: 'GraphProto', id: 6 };
  return json as unknown as protobuf.INamespace;
}

function sessionVariant(name: string, bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Variant & { ready: Promise<ort.InferenceSession | Error> } {
  const ready = session(bytes).catch((e: unknown) => e as Error);
  return {
    name, ready,
    run: async () => {
      const s = await ready;
      if (s instanceof Error) return;
      await s.run(feeds);
    },
  };
}

async function forwardSection(): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for (const T of lengths) {
    const [qb, kb] = blockSizes[0]!;
    const candidates = [
      sessionVariant('com.microsoft GroupQueryAttention', gqaModel(T), feedsFor(T, 'btd')),
      sessionVariant('com.microsoft MultiHeadAttention (unidirectional)', mhaModel(T), feedsFor(T, 'btd')),
      sessionVariant('ONNX Attention (opset 23, is_causal)', onnxAttentionModel(T), feedsFor(T, 'bhtd')),
      ...(T % qb === 0 ? [sessionVariant(`ONNX Loop over ${qb}-row query blocks`, loopModel(T, qb), feedsFor(T, 'bhtd'))] : []),
    ];
    const variants: Variant[] = [engineForward(T, qb, kb)];
    for (const c of candidates) {
      const s = await c.ready;
      if (s instanceof Error) {
        log(`  ${c.name} at T=${T}: not available (${s.message.split('\n')[0]})`);
        rows.push({ section: 'forward', T, variant: c.name, error: s.message.split('\n')[0] });
        continue;
      }
      try {
        await c.run();
        variants.push(c);
      } catch (e) {
        log(`  ${c.name} at T=${T}: failed to run (${(e as Error).message.split('\n')[0]})`);
        rows.push({ section: 'forward', T, variant: c.name, error: (e as Error).message.split('\n')[0] });
      }
    }
    const load0 = loadAverage();
    const times = await alternate(variants);
    await clearCompiledGraphs();
    const base = median(times.get(variants[0]!.name)!);
    for (const v of variants) {
      const t = median(times.get(v.name)!);
      rows.push({ section: 'forward', T, batch: batchFor(T), variant: v.name, ms: t, all: times.get(v.name), relative: t / base, load: [load0, loadAverage()] });
    }
    log(`\nforward only, [${batchFor(T)}, ${H}/${HKV} heads, ${T}, ${D}] (median of ${reps}, ms; load ${load0.toFixed(1)} → ${loadAverage().toFixed(1)})`);
    log(table(['variant', 'ms', 'relative to the engine'], variants.map((v) => [v.name, median(times.get(v.name)!).toFixed(1), (median(times.get(v.name)!) / base).toFixed(2)])));
  }
  return rows;
}

const machine = machineInfo(Number(process.env.BONE_THREADS) || 2);
log(`causal attention: ${machine.cpu}, ${machine.cores} cores, load ${loadAverage().toFixed(1)}`);
const results: Record<string, unknown>[] = [];
if (sections.has('blocks')) results.push(...await blocksSection());
if (sections.has('forward')) results.push(...await forwardSection());
mkdirSync(join(import.meta.dirname, 'out'), { recursive: true });
writeFileSync(join(import.meta.dirname, 'out', 'attention.json'), `${JSON.stringify({ date: new Date().toISOString(), machine, reps, results }, null, 1)}\n`);
log(`\nresults: bench/out/attention.json; load at the end ${loadAverage().toFixed(1)}`);
