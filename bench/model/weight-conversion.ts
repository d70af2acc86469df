/**
 * What a bfloat16/float16 checkpoint costs to use, converted at load versus kept 16-bit and cast inside
 * every graph (docs/design.md, "Model weights at load"):
 *
 *  - at load: converting all of a SmolLM2-135M-sized model's weights to float32 in JavaScript, once;
 *  - in the graph: ONNX Runtime's Cast of float16 weights before their MatMul, paid at every run. Measured
 *    on the largest weight (the tied 49152 × 576 embedding used as the head) for one token, as in
 *    a decoding step, and scaled to all weights. bfloat16 cannot take this path at all: onnxruntime-node
 *    has no bfloat16 tensors to feed (the engine converts them in JavaScript either way).
 */
import ort from 'onnxruntime-node';
import { bf16ToF32, f16ToF32 } from '../../src/engine/dtype.ts';
import { ModelProto } from '../../src/engine/onnx/proto.ts';
import { median, randomFloats } from '../util.ts';
import { SMOLLM2_135M_CONFIG, llamaShapes } from './smollm2-folder.ts';

export interface ConversionResult {
  params: number;
  /** JavaScript conversion of every weight, once at load (median of the repeats). */
  bf16AtLoadMs: number;
  f16AtLoadMs: number;
  /** One-token Gemm against the [vocab, hidden] weight: float32 weight vs float16 weight + Cast. */
  headGemmF32Ms: number;
  headGemmF16CastMs: number;
  /** (headGemmF16CastMs − headGemmF32Ms) scaled from the head's elements to all parameters: the per-run cost of casting in-graph. */
  castPerRunAllWeightsMs: number;
}

const FLOAT = 1;
const FLOAT16 = 10;

/** x [1, hidden] · W[vocab, hidden]ᵀ, with W fed as float32, or as float16 and cast in the graph. */
function headGraph(vocab: number, hidden: number, weightType: number): Uint8Array {
  const info = (name: string, elemType: number, dims: number[]): object => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const nodes: object[] = [];
  let w = 'w';
  if (weightType === FLOAT16) {
    nodes.push({ name: 'cast', opType: 'Cast', input: ['w'], output: ['w32'], attribute: [{ name: 'to', type: 2, i: FLOAT }] });
    w = 'w32';
  }
  nodes.push({ name: 'gemm', opType: 'Gemm', input: ['x', w], output: ['y'], attribute: [{ name: 'transB', type: 2, i: 1 }] });
  return ModelProto.encode(ModelProto.fromObject({
    irVersion: 8, producerName: 'bone-peft-bench', opsetImport: [{ domain: '', version: 18 }],
    graph: { name: 'head', node: nodes, input: [info('x', FLOAT, [1, hidden]), info('w', weightType, [vocab, hidden])], output: [info('y', FLOAT, [1, vocab])] },
  })).finish();
}

async function timeRuns(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, runs: number): Promise<number> {
  await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  return median(times);
}

export async function measureWeightConversion(threads: number, repeats = 3): Promise<ConversionResult> {
  const shapes = llamaShapes(SMOLLM2_135M_CONFIG);
  const sizes = shapes.map(([, s]) => s.reduce((a, b) => a * b, 1));
  const params = sizes.reduce((a, b) => a + b, 0);
  // Random 16-bit patterns of finite, weight-like values (exponent field kept small): the conversion cost does not depend on them.
  const raw = sizes.map((n, i) => Uint16Array.from(randomFloats(n, 1, 100 + i), (v) => 0x2000 + Math.floor((v + 1) * 0x3fff)));

  const convert = (fn: (bits: Uint16Array) => Float32Array): number => {
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = performance.now();
      // One tensor at a time, as the loader does; the float32 copies are kept as the loaded model keeps them.
      const kept = raw.map((bits) => fn(bits));
      times.push(performance.now() - t);
      kept.length = 0;
    }
    return median(times);
  };
  const bf16AtLoadMs = convert(bf16ToF32);
  const f16AtLoadMs = convert(f16ToF32);

  const { vocab_size: vocab, hidden_size: hidden } = SMOLLM2_135M_CONFIG;
  const options: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
  const x = new ort.Tensor('float32', randomFloats(hidden, 1, 1), [1, hidden]);
  const w32 = randomFloats(vocab * hidden, 0.03, 2);
  const f32Session = await ort.InferenceSession.create(headGraph(vocab, hidden, FLOAT), options);
  const f16Session = await ort.InferenceSession.create(headGraph(vocab, hidden, FLOAT16), options);
  const runs = 15;
  const headGemmF32Ms = await timeRuns(f32Session, { x, w: new ort.Tensor('float32', w32, [vocab, hidden]) }, runs);
  const w16 = raw[0]!.subarray(0, vocab * hidden);
  const headGemmF16CastMs = await timeRuns(f16Session, { x, w: new ort.Tensor('float16', w16, [vocab, hidden]) }, runs);
  await f32Session.release();
  await f16Session.release();
  return {
    params, bf16AtLoadMs, f16AtLoadMs, headGemmF32Ms, headGemmF16CastMs,
    castPerRunAllWeightsMs: (headGemmF16CastMs - headGemmF32Ms) * (params / (vocab * hidden)),
  };
}
