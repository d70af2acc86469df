/**
 * The lazy Tensor. A tensor is either realised (it owns a typed array) or a node (an op applied to
 * input tensors). Ops only record nodes; `realize` compiles the needed subgraph to ONNX and runs it.
 * A realised tensor keeps the node it came from, so gradients can still be taken through it;
 * `detach()` drops that history (optimizers do, so that step N does not hold step N-1 alive).
 */
import {
  arrayFor, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, matchesDType, type DType, type TypedArray,
} from './dtype.ts';
import { EngineError } from './errors.ts';
import type { Attrs, OpDef } from './op.ts';
import { getDefaultGenerator, type Generator } from './random.ts';
import * as ops from './ops/index.ts';
import { realize } from './realize.ts';

export type Shape = readonly number[];
export type Scalar = number | bigint | boolean;
export type NestedArray = Scalar | NestedArray[];
/** Largest realised tensor that is embedded into a graph as a constant instead of fed as input. */
export const MAX_EMBEDDED_CONSTANT = 64;

let nextId = 0;

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  /** The op that produced this tensor, or null for a leaf. */
  readonly op: OpDef | null;
  readonly inputs: readonly Tensor[];
  readonly attrs: Attrs;
  /** Where the op was called (with BONE_DEBUG or setCaptureOrigins): reported when ONNX Runtime fails on its node. */
  readonly origin: Error | null;
  /** Structural signature of this node (op, attributes, output type): part of the graph cache key. */
  readonly signature: string;
  private buffer: TypedArray | null;
  /** Embedded into graphs as a constant (small values that never change, e.g. `x.mul(2)`'s 2). */
  readonly constant: boolean;

  private constructor(shape: Shape, dtype: DType, op: OpDef | null, inputs: readonly Tensor[], attrs: Attrs,
    origin: Error | null, buffer: TypedArray | null, constant: boolean) {
    this.shape = shape;
    this.dtype = dtype;
    this.op = op;
    this.inputs = inputs;
    this.attrs = attrs;
    this.origin = origin;
    this.buffer = buffer;
    this.constant = constant;
    this.signature = op ? `${op.name}${JSON.stringify(attrs)}:${dtype}[${shape.join(',')}]` : '';
  }

  /** @internal used by `apply`. */
  static fromNode(op: OpDef, inputs: readonly Tensor[], attrs: Attrs, shape: number[], dtype: DType, origin: Error | null): Tensor {
    return new Tensor(shape, dtype, op, inputs, attrs, origin, null, false);
  }

  // ---- creation -------------------------------------------------------------------------------

  /** Wrap a typed array (not copied). Its type must be dtype's storage type. */
  static fromData(data: TypedArray, shape: Shape, dtype?: DType, opts: { constant?: boolean } = {}): Tensor {
    const dt = dtype ?? inferDType(data);
    if (!matchesDType(data, dt)) {
      throw new EngineError(`Tensor.fromData: a ${dt} tensor needs a ${arrayFor(dt, 0).constructor.name}, found ${data.constructor.name}`);
    }
    if (data.length !== numel(shape)) {
      throw new EngineError(`Tensor.fromData: shape [${shape.join(', ')}] needs ${numel(shape)} elements, found ${data.length}`);
    }
    const constant = (opts.constant ?? false) && data.length <= MAX_EMBEDDED_CONSTANT;
    return new Tensor([...shape], dt, null, [], {}, null, data, constant);
  }

  /** From nested arrays or a scalar; dtype defaults to float32 (int64 for bigints, bool for booleans). */
  static from(values: NestedArray, dtype?: DType): Tensor {
    const shape: number[] = [];
    let probe: NestedArray = values;
    while (Array.isArray(probe)) { shape.push(probe.length); probe = probe[0] as NestedArray; }
    const dt = dtype ?? (typeof probe === 'bigint' ? 'int64' : typeof probe === 'boolean' ? 'bool' : 'float32');
    const flat: Scalar[] = [];
    const walk = (v: NestedArray, depth: number, path: string): void => {
      if (depth === shape.length) {
        if (Array.isArray(v)) throw new EngineError(`Tensor.from: ragged nested array at ${path}: expected a scalar, found an array`);
        flat.push(v);
        return;
      }
      if (!Array.isArray(v) || v.length !== shape[depth]) {
        throw new EngineError(`Tensor.from: ragged nested array at ${path}: expected ${shape[depth]} elements, found ${Array.isArray(v) ? v.length : 'a scalar'}`);
      }
      v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
    };
    walk(values, 0, 'values');
    return Tensor.fromData(fillArray(dt, flat), shape, dt);
  }

  /** A small constant that is embedded into the graphs that use it (part of the cache key). */
  static constant(value: Scalar, dtype: DType = 'float32'): Tensor {
    return Tensor.fromData(fillArray(dtype, [value]), [], dtype, { constant: true });
  }

  /** A scalar fed as a graph input: use it for values that change between runs (learning rate, step). */
  static scalar(value: Scalar, dtype: DType = 'float32'): Tensor {
    return Tensor.fromData(fillArray(dtype, [value]), [], dtype);
  }

  static full(shape: Shape, value: Scalar, dtype: DType = 'float32'): Tensor {
    // float16/bfloat16 storage holds bit patterns: convert the value, never fill the raw number.
    if (dtype === 'float16' || dtype === 'bfloat16') return Tensor.fromData(fillFloats(dtype, numel(shape), () => Number(value)), shape, dtype);
    const data = arrayFor(dtype, numel(shape));
    if (!Object.is(value, 0) && value !== 0n && value !== false) data.fill(convertScalar(value, dtype) as never);
    return Tensor.fromData(data, shape, dtype);
  }

  static zeros(shape: Shape, dtype: DType = 'float32'): Tensor { return Tensor.full(shape, 0, dtype); }
  static ones(shape: Shape, dtype: DType = 'float32'): Tensor { return Tensor.full(shape, 1, dtype); }

  /** Normal(mean, std) from a seeded generator (the default one unless given). */
  static randn(shape: Shape, opts: { mean?: number; std?: number; dtype?: DType; generator?: Generator } = {}): Tensor {
    const g = opts.generator ?? getDefaultGenerator();
    const { mean = 0, std = 1, dtype = 'float32' } = opts;
    return Tensor.fromData(fillFloats(dtype, numel(shape), () => mean + std * g.normal()), shape, dtype);
  }

  /** Uniform[low, high) from a seeded generator. */
  static rand(shape: Shape, opts: { low?: number; high?: number; dtype?: DType; generator?: Generator } = {}): Tensor {
    const g = opts.generator ?? getDefaultGenerator();
    const { low = 0, high = 1, dtype = 'float32' } = opts;
    return Tensor.fromData(fillFloats(dtype, numel(shape), () => low + (high - low) * g.uniform()), shape, dtype);
  }

  // ---- state ----------------------------------------------------------------------------------

  get ndim(): number { return this.shape.length; }
  get size(): number { return numel(this.shape); }
  get isRealized(): boolean { return this.buffer !== null; }

  /** The realised storage; throws if the tensor is still lazy (use `await t.data()`). */
  get storage(): TypedArray {
    if (!this.buffer) throw new EngineError(`tensor ${this.describe()} is not realised: call await realize([t]) or await t.data() first`);
    return this.buffer;
  }

  /** @internal set by realize. */
  setBuffer(data: TypedArray): void { this.buffer = data; }

  /** A leaf sharing this tensor's data (realised) or the same lazy value with no gradient history. */
  detach(): Tensor {
    if (this.buffer) return new Tensor(this.shape, this.dtype, null, [], {}, null, this.buffer, this.constant);
    return ops.stopGradient(this);
  }

  async realize(): Promise<this> {
    await realize([this]);
    return this;
  }

  /** Realise and return the storage (float16/bfloat16 come back as their raw Uint16Array bits). */
  async data(): Promise<TypedArray> {
    await realize([this]);
    return this.storage;
  }

  /** Realise and return numbers as float32/float64 (storage-only types converted). */
  async floats(): Promise<Float32Array | Float64Array> {
    const d = await this.data();
    if (this.dtype === 'bfloat16') return bf16ToF32(d as Uint16Array);
    if (this.dtype === 'float16') return f16ToF32(d as Uint16Array);
    if (d instanceof Float32Array || d instanceof Float64Array) return d;
    return Float64Array.from(d as ArrayLike<number>, Number);
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new EngineError(`item(): expected a tensor with one element, found shape [${this.shape.join(', ')}]`);
    return (await this.floats())[0]!;
  }

  async toArray(): Promise<NestedArray> {
    const flat = this.dtype === 'int64' || this.dtype === 'bool' || this.dtype === 'int32'
      ? Array.from(await this.data() as ArrayLike<number | bigint>, (v) => (this.dtype === 'bool' ? v !== 0 : v))
      : Array.from(await this.floats());
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return flat[offset]!;
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  describe(): string {
    return `${this.op ? this.op.name : 'leaf'} ${this.dtype}[${this.shape.join(', ')}]`;
  }

  toString(): string { return `Tensor(${this.describe()})`; }

  // ---- ops (see ops/ for the definitions) -----------------------------------------------------

  add(o: Tensor | number): Tensor { return ops.add(this, o); }
  sub(o: Tensor | number): Tensor { return ops.sub(this, o); }
  mul(o: Tensor | number): Tensor { return ops.mul(this, o); }
  div(o: Tensor | number): Tensor { return ops.div(this, o); }
  neg(): Tensor { return ops.neg(this); }
  pow(exponent: number): Tensor { return ops.pow(this, exponent); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  abs(): Tensor { return ops.abs(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  silu(): Tensor { return ops.silu(this); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return ops.gelu(this, approximate); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  maximum(o: Tensor | number): Tensor { return ops.maximum(this, o); }
  minimum(o: Tensor | number): Tensor { return ops.minimum(this, o); }
  eq(o: Tensor | Scalar): Tensor { return ops.eq(this, o); }
  ne(o: Tensor | Scalar): Tensor { return ops.ne(this, o); }
  lt(o: Tensor | Scalar): Tensor { return ops.lt(this, o); }
  le(o: Tensor | Scalar): Tensor { return ops.le(this, o); }
  gt(o: Tensor | Scalar): Tensor { return ops.gt(this, o); }
  ge(o: Tensor | Scalar): Tensor { return ops.ge(this, o); }
  logicalAnd(o: Tensor): Tensor { return ops.logicalAnd(this, o); }
  logicalOr(o: Tensor): Tensor { return ops.logicalOr(this, o); }
  logicalNot(): Tensor { return ops.logicalNot(this); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  float(): Tensor { return ops.cast(this, 'float32'); }

  matmul(o: Tensor): Tensor { return ops.matmul(this, o); }

  reshape(shape: Shape): Tensor { return ops.reshape(this, shape); }
  view(shape: Shape): Tensor { return ops.reshape(this, shape); }
  permute(perm: readonly number[]): Tensor { return ops.permute(this, perm); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return ops.transpose(this, dim0, dim1); }
  expand(shape: Shape): Tensor { return ops.expand(this, shape); }
  squeeze(dims?: number | readonly number[]): Tensor { return ops.squeeze(this, dims); }
  unsqueeze(dim: number): Tensor { return ops.unsqueeze(this, dim); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  slice(dim: number, start?: number, end?: number, step = 1): Tensor { return ops.slice(this, dim, start, end, step); }
  pad(pads: readonly number[], value = 0): Tensor { return ops.pad(this, pads, value); }
  split(sizes: number | readonly number[], dim = 0): Tensor[] { return ops.split(this, sizes, dim); }
  gather(dim: number, index: Tensor): Tensor { return ops.gatherElements(this, dim, index); }
  indexSelect(dim: number, index: Tensor): Tensor { return ops.indexSelect(this, dim, index); }
  triu(k = 0): Tensor { return ops.triu(this, k); }
  tril(k = 0): Tensor { return ops.tril(this, k); }

  sum(dims?: number | readonly number[], keepdim = false): Tensor { return ops.sum(this, dims, keepdim); }
  mean(dims?: number | readonly number[], keepdim = false): Tensor { return ops.mean(this, dims, keepdim); }
  max(dims?: number | readonly number[], keepdim = false): Tensor { return ops.max(this, dims, keepdim); }
  min(dims?: number | readonly number[], keepdim = false): Tensor { return ops.min(this, dims, keepdim); }
  argmax(dim = -1, keepdim = false): Tensor { return ops.argmax(this, dim, keepdim); }

  softmax(dim = -1): Tensor { return ops.softmax(this, dim); }
  logSoftmax(dim = -1): Tensor { return ops.logSoftmax(this, dim); }
}

function inferDType(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'bool';
  throw new EngineError(`Tensor.fromData: pass the dtype for a ${data.constructor.name} (float16 or bfloat16)`);
}

function convertScalar(v: Scalar, dtype: DType): number | bigint {
  if (dtype === 'int64') {
    if (typeof v === 'bigint') return v;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new EngineError(`int64 tensor: expected an integer, found ${n}`);
    return BigInt(n);
  }
  const n = typeof v === 'boolean' ? (v ? 1 : 0) : Number(v);
  if (dtype === 'bool') return n ? 1 : 0;
  return n;
}

function fillArray(dtype: DType, values: readonly Scalar[]): TypedArray {
  if (dtype === 'float16' || dtype === 'bfloat16') {
    return fillFloats(dtype, values.length, (i) => Number(values[i]));
  }
  const out = arrayFor(dtype, values.length);
  for (let i = 0; i < values.length; i++) (out as unknown as (number | bigint)[])[i] = convertScalar(values[i]!, dtype);
  return out;
}

function fillFloats(dtype: DType, n: number, f: (i: number) => number): TypedArray {
  if (dtype !== 'float32' && dtype !== 'float64' && dtype !== 'float16' && dtype !== 'bfloat16') {
    throw new EngineError(`random and float fills need a float dtype, found ${dtype}`);
  }
  const work = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) work[i] = f(i);
  if (dtype === 'float16' || dtype === 'bfloat16') return storageFromFloats(work as Float32Array, dtype);
  return work;
}

function storageFromFloats(a: Float32Array, dtype: 'float16' | 'bfloat16'): Uint16Array {
  return dtype === 'bfloat16' ? f32ToBf16(a) : f32ToF16(a);
}
