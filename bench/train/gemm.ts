/**
 * Child process of bench/train.bench.ts: float32 GEMM layouts in ONNX Runtime for the step's shapes.
 * x [M, K] times a torch-layout weight W [N, K] (y = x Wᵀ), three ways:
 *   transpose  MatMul(x, Transpose(W))   — what the engine emits; ORT fuses it into FusedMatMul(transB)
 *   gemm       Gemm(x, W, transB=1)
 *   pre-T      MatMul(x, Wt) with Wt [K, N] stored transposed (what a weight kept in [in, out] layout gives)
 * and, as an exploration of lower precision for the frozen base weights (not what the step does):
 *   int8       com.microsoft DynamicQuantizeMatMul(x, int8 Wt, per-column scales) — MLAS's int8 GEMM
 *              (AMX/VNNI where the CPU has them), activations quantised per tensor at run time
 * Each run reads a different copy of the weight (up to 64 MiB of copies), as the step reads each
 * layer's weight once. Alternating repetitions, median and best per variant. Prints one `@@RESULT {json}` line.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { GraphBuilder } from '../../src/engine/onnx/builder.ts';
import { ModelProto } from '../../src/engine/onnx/proto.ts';
import { ortSessionOptions } from '../../src/node/ort-node.ts';
import { median, now, randomFloats } from '../util.ts';
import { emitResult } from './common.ts';

const { values: a } = parseArgs({ options: { reps: { type: 'string', default: '9' } } });
const reps = Number(a.reps);
const threads = Number(process.env.BONE_THREADS) || availableParallelism();

const SHAPES: { name: string; M: number; K: number; N: number }[] = [
  { name: 'gate/up proj', M: 1024, K: 576, N: 1536 },
  { name: 'down proj', M: 1024, K: 1536, N: 576 },
  { name: 'q/o proj', M: 1024, K: 576, N: 576 },
  { name: 'LM head (tied)', M: 1024, K: 576, N: 49152 },
];

type Variant = 'transpose' | 'gemm' | 'pre-T' | 'int8';
const ALL: Variant[] = ['transpose', 'gemm', 'pre-T', 'int8'];

function model(v: Variant, M: number, K: number, N: number): Uint8Array {
  const g = new GraphBuilder();
  if (v === 'int8') {
    g.addInput('x', 'float32', [M, K]);
    g.addInput('w', 'bool', [K, N]); // retyped to int8 below (the engine's builder has no int8)
    g.addInput('s', 'float32', [N]);
    g.addOutput(g.node('DynamicQuantizeMatMul', ['x', 'w', 's'], {}, 'com.microsoft'), 'y', 'float32', [M, N]);
    const m = ModelProto.decode(g.toBytes()) as unknown as { graph: { input: { name: string; type: { tensorType: { elemType: number } } }[] } };
    m.graph.input.find((i) => i.name === 'w')!.type.tensorType.elemType = 3;
    return ModelProto.encode(m as never).finish();
  }
  g.addInput('x', 'float32', [M, K]);
  g.addInput('w', 'float32', v === 'pre-T' ? [K, N] : [N, K]);
  const y = v === 'transpose' ? g.node('MatMul', ['x', g.node('Transpose', ['w'], { perm: [1, 0] })])
    : v === 'gemm' ? g.node('Gemm', ['x', 'w'], { transB: 1 })
      : g.node('MatMul', ['x', 'w']);
  g.addOutput(y, 'y', 'float32', [M, N]);
  return g.toBytes();
}

const results: Record<string, unknown>[] = [];
for (const s of SHAPES) {
  const x = new ort.Tensor('float32', randomFloats(s.M * s.K, Math.sqrt(3), 1), [s.M, s.K]);
  // Like the step, which reads each layer's weight once: cycle through enough weights to leave the caches.
  const copies = Math.max(1, Math.min(16, Math.ceil((64 * 2 ** 20) / (4 * s.N * s.K))));
  const wAll = Array.from({ length: copies }, (_, i) => randomFloats(s.N * s.K, 0.02 * Math.sqrt(3), 2 + i));
  let wData = wAll[0]!;
  let pick = 0;
  const sessions = new Map<Variant, ort.InferenceSession>();
  const unsupported: Record<string, string> = {};
  for (const v of ALL) {
    try {
      sessions.set(v, await ort.InferenceSession.create(model(v, s.M, s.K, s.N), ortSessionOptions()));
    } catch (e) {
      unsupported[v] = (e as Error).message.split('\n')[0]!.slice(0, 200);
    }
  }
  const VARIANTS = ALL.filter((v) => sessions.has(v));
  const int8All = wAll.map((w) => Int8Array.from(w, (v) => Math.round(v * 127 / 0.04)));
  let int8W = int8All[0]!;
  const scales = new Float32Array(s.N).fill(0.04 / 127);
  const feeds = (v: Variant): Record<string, ort.Tensor> => (v === 'int8'
    ? { x, w: new ort.Tensor('int8', int8W, [s.K, s.N]), s: new ort.Tensor('float32', scales, [s.N]) }
    : { x, w: new ort.Tensor('float32', wData, v === 'pre-T' ? [s.K, s.N] : [s.N, s.K]) });
  const times = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const r = s.N > 10000 ? Math.max(3, Math.ceil(reps / 3)) : reps;
  for (let i = 0; i < r + 1; i++) {
    for (const v of i % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      wData = wAll[pick % copies]!;
      int8W = int8All[pick++ % copies]!;
      const t0 = now();
      await sessions.get(v)!.run(feeds(v));
      if (i > 0) times.get(v)!.push(now() - t0);
    }
  }
  const flops = 2 * s.M * s.K * s.N;
  const row: Record<string, unknown> = { shape: s.name, M: s.M, K: s.K, N: s.N, flops, weightCopies: copies, unsupported };
  for (const v of VARIANTS) {
    const t = times.get(v)!;
    row[v] = { medianMs: median(t), bestMs: Math.min(...t), gflops: flops / median(t) / 1e6, bestGflops: flops / Math.min(...t) / 1e6 };
  }
  results.push(row);
  process.stderr.write(`  ${s.name}: ${VARIANTS.map((v) => `${v} ${((row[v] as { gflops: number }).gflops).toFixed(0)} GFLOP/s`).join(', ')}\n`);
  for (const sess of sessions.values()) await sess.release();
}
emitResult({ kind: 'gemm-layouts', threads, results });
