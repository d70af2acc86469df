/**
 * Reads an ONNX Runtime profile (SessionOptions.enableProfiling) of the training step and says where
 * the kernel time goes: by op type, by part of the model (classified from the tensor shapes each
 * kernel saw), and the GEMM FLOP rate per part. Only the last `model_run` in the file is counted
 * (the earlier ones pay first-run allocations).
 */
import { readFileSync } from 'node:fs';

interface ProfileEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: {
    op_name?: string;
    input_type_shape?: Record<string, number[]>[];
    output_type_shape?: Record<string, number[]>[];
    mem_in_use_peak?: string;
    mem_arena_held?: string;
  };
}

export interface ModelDims {
  batch: number;
  seq: number;
  hidden: number;
  intermediate: number;
  vocab: number;
  headDim: number;
  /** Adapter dims (Bone/MiSS r, LoRA r). */
  adapterDims: number[];
}

export const PARTS = ['LM head + cross-entropy', 'attention (QKᵀ, mask, softmax, PV, GQA repeat, RoPE)', 'MLP (gate/up/down, SiLU)',
  'adapters', 'q/k/v/o projections', 'norms, residuals, embedding, rest'] as const;
export type Part = (typeof PARTS)[number];

export interface KernelRow { ms: number; share: number; nodes: number; gemmGflop: number; gemmMs: number }

export interface ProfileSummary {
  runMs: number;
  kernelMs: number;
  kernels: number;
  byOp: (KernelRow & { op: string })[];
  byPart: (KernelRow & { part: Part })[];
  gemm: { gflop: number; ms: number; gflops: number };
  top: { op: string; shapes: string; nodes: number; ms: number; share: number }[];
  memInUsePeakMB: number;
  memArenaHeldMB: number;
}

const GEMM_OPS = new Set(['MatMul', 'FusedMatMul', 'Gemm', 'matmul']);

function shapesOf(e: ProfileEvent): { ins: number[][]; outs: number[][] } {
  const pick = (xs: Record<string, number[]>[] | undefined): number[][] => (xs ?? []).map((x) => Object.values(x)[0] ?? []);
  return { ins: pick(e.args?.input_type_shape), outs: pick(e.args?.output_type_shape) };
}

const prod = (xs: readonly number[]): number => xs.reduce((p, d) => p * d, 1);

/** 2·M·N·K of a (batched) matrix product, from its operand and result shapes (transposes allowed). */
function gemmFlops(ins: number[][], outs: number[][]): number {
  const [a, b] = ins;
  const y = outs[0];
  if (!a || !b || !y || a.length < 2 || b.length < 2 || y.length < 2) return 0;
  const M = y[y.length - 2]!;
  const N = y[y.length - 1]!;
  const k2 = (a[a.length - 2]! * a[a.length - 1]! * b[b.length - 2]! * b[b.length - 1]!) / (M * N);
  return 2 * prod(y) * Math.sqrt(k2);
}

/** The part of the model a kernel (ONNX op) or engine node (engine op name) belongs to, from the shapes it touches. */
export function classify(op: string, shapes: number[][], d: ModelDims): Part {
  const has = (n: number): boolean => shapes.some((s) => s.includes(n));
  if (has(d.vocab)) return op === 'Gather' ? 'norms, residuals, embedding, rest' : 'LM head + cross-entropy';
  const attn = shapes.some((s) => s.length >= 4 && s[s.length - 2] === d.seq && (s[s.length - 1] === d.seq || s[s.length - 1] === d.headDim))
    || shapes.some((s) => s.length >= 2 && s[s.length - 1] === d.seq && s[s.length - 2] === d.seq)
    || shapes.some((s) => s.length >= 4 && s[s.length - 1] === d.seq && s[s.length - 2] === d.headDim);
  if (attn) return 'attention (QKᵀ, mask, softmax, PV, GQA repeat, RoPE)';
  if (has(d.intermediate)) return 'MLP (gate/up/down, SiLU)';
  // RoPE on [B, T, heads, D] before the transpose also carries head_dim, but with the heads axis at -2.
  const ropeLike = shapes.some((s) => s.length === 4 && s[1] === d.seq && s[3] === d.headDim);
  if (ropeLike && !['ReduceSum'].includes(op)) return 'attention (QKᵀ, mask, softmax, PV, GQA repeat, RoPE)';
  if (shapes.some((s) => d.adapterDims.some((r) => s.includes(r)))) return 'adapters';
  const proj = GEMM_OPS.has(op);
  return proj ? 'q/k/v/o projections' : 'norms, residuals, embedding, rest';
}

export function analyseProfile(file: string, dims: ModelDims, topN = 25): ProfileSummary {
  const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[];
  const runs = events.filter((e) => e.name === 'model_run');
  const run = runs[runs.length - 1];
  if (!run) throw new Error(`${file}: no model_run event`);
  const nodes = events.filter((e) => e.cat === 'Node' && e.ts >= run.ts && e.ts <= run.ts + run.dur);
  const kernelUs = nodes.reduce((s, e) => s + e.dur, 0);
  const byOp = new Map<string, KernelRow>();
  const byPart = new Map<Part, KernelRow>(PARTS.map((p) => [p, { ms: 0, share: 0, nodes: 0, gemmGflop: 0, gemmMs: 0 }]));
  const top = new Map<string, { op: string; shapes: string; nodes: number; ms: number; share: number }>();
  let gflop = 0;
  let gemmMs = 0;
  let memPeak = 0;
  let arena = 0;
  for (const e of nodes) {
    const op = e.args?.op_name ?? e.name;
    const { ins, outs } = shapesOf(e);
    const ms = e.dur / 1000;
    const part = classify(op, [...ins, ...outs], dims);
    const f = GEMM_OPS.has(op) ? gemmFlops(ins, outs) / 1e9 : 0;
    for (const row of [byOp.get(op) ?? byOp.set(op, { ms: 0, share: 0, nodes: 0, gemmGflop: 0, gemmMs: 0 }).get(op)!, byPart.get(part)!]) {
      row.ms += ms;
      row.nodes++;
      row.gemmGflop += f;
      if (f) row.gemmMs += ms;
    }
    if (f) { gflop += f; gemmMs += ms; }
    const key = `${op} ${ins.map((s) => `[${s.join(',')}]`).join(' ')} -> ${outs.map((s) => `[${s.join(',')}]`).join(' ')}`;
    const t = top.get(key) ?? top.set(key, { op, shapes: key.slice(op.length + 1), nodes: 0, ms: 0, share: 0 }).get(key)!;
    t.ms += ms;
    t.nodes++;
    memPeak = Math.max(memPeak, Number(e.args?.mem_in_use_peak ?? 0));
    arena = Math.max(arena, Number(e.args?.mem_arena_held ?? 0));
  }
  const kernelMs = kernelUs / 1000;
  const finish = <T extends KernelRow>(rows: T[]): T[] => rows.map((r) => ({ ...r, share: r.ms / kernelMs })).sort((x, y) => y.ms - x.ms);
  return {
    runMs: run.dur / 1000,
    kernelMs,
    kernels: nodes.length,
    byOp: finish([...byOp].map(([op, r]) => ({ op, ...r }))),
    byPart: finish([...byPart].map(([part, r]) => ({ part, ...r }))),
    gemm: { gflop, ms: gemmMs, gflops: gflop / (gemmMs / 1000) },
    top: [...top.values()].map((t) => ({ ...t, share: t.ms / kernelMs })).sort((x, y) => y.ms - x.ms).slice(0, topN),
    memInUsePeakMB: memPeak / 2 ** 20,
    memArenaHeldMB: arena / 2 ** 20,
  };
}
