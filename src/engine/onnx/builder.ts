/**
 * Builds one ONNX graph. Op lowerings call `node(...)` and the constant helpers; `realize` turns the
 * result into ModelProto bytes. Node names start with `n<index>_` (the engine node being lowered) so
 * that an ONNX Runtime error can be traced back to the engine op and the user code that made it.
 */
import { ONNX_DTYPE, runtimeDType, type DType, type TypedArray } from '../dtype.ts';
import { ATTR_TYPE, ModelProto } from './proto.ts';

/** int → INT, number[] → INTS, string → STRING, {f} → FLOAT, {floats} → FLOATS, {tensor} → TENSOR. */
export type OnnxAttr = number | readonly number[] | string | { f: number } | { floats: readonly number[] }
  | { tensor: { dtype: DType; dims: readonly number[]; data: TypedArray } };

export const OPSET = 18;

/** A node as onnx.proto's NodeProto (protobufjs JSON form). */
export interface OnnxNode {
  name: string;
  opType: string;
  input: string[];
  output: string[];
  domain: string;
  attribute: object[];
}

/** An initializer as onnx.proto's TensorProto: its bytes inline, or (externalData) in a file beside the model. */
export interface OnnxInitializer {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  externalData?: { key: string; value: string }[];
  dataLocation?: number;
}

/** A graph input or output: a name, an element type and dims (a number, or a name for a size known only at run time). */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims: (number | string)[];
}

/** The parts of one graph, before encoding. */
export interface OnnxGraph {
  node: OnnxNode[];
  initializer: OnnxInitializer[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface GraphBuilderOptions {
  /**
   * Give nodes that ask for equal constants one initializer (default true). Off, every request makes
   * its own, so that graphs traced at different sizes line up initializer by initializer
   * (onnx/symbolic.ts compares them to find the constants that are sizes).
   */
  shareConstants?: boolean;
  /** Prefix of the names this builder makes up (constants, nodes), so that two builders' graphs can be joined. */
  prefix?: string;
}

export class GraphBuilder {
  private readonly nodes: OnnxNode[] = [];
  private readonly initializers: OnnxInitializer[] = [];
  private readonly inputs: OnnxValueInfo[] = [];
  private readonly outputs: OnnxValueInfo[] = [];
  private readonly constCache = new Map<string, string>();
  private readonly shareConstants: boolean;
  private readonly prefix: string;
  private constCount = 0;
  private counter = 0;
  /** Index of the engine node being lowered (prefix of node names). */
  owner = -1;

  constructor(opts: GraphBuilderOptions = {}) {
    this.shareConstants = opts.shareConstants ?? true;
    this.prefix = opts.prefix ?? '';
  }

  node(opType: string, inputs: readonly string[], attrs: Record<string, OnnxAttr> = {}, domain = ''): string {
    return this.nodeMulti(opType, inputs, 1, attrs, domain)[0]!;
  }

  nodeMulti(opType: string, inputs: readonly string[], nOutputs: number, attrs: Record<string, OnnxAttr> = {}, domain = ''): string[] {
    const name = `${this.prefix}n${this.owner}_${opType}_${this.counter++}`;
    const outputs = Array.from({ length: nOutputs }, (_, k) => `${name}:${k}`);
    this.nodes.push({
      name, opType, input: [...inputs], output: outputs, domain,
      attribute: Object.entries(attrs).map(([k, v]) => encodeAttr(k, v)),
    });
    return outputs;
  }

  /** An int64 constant (1-D, or a scalar with `scalar: true`), shared by every node that asks for the same values. */
  constI64(values: readonly number[], scalar = false): string {
    return this.constTensor('int64', scalar ? [] : [values.length], BigInt64Array.from(values, (v) => BigInt(v)));
  }

  /** A scalar constant of the given (runtime) dtype. */
  constScalar(value: number, dtype: DType): string {
    const dt = runtimeDType(dtype);
    const data = dt === 'float64' ? Float64Array.of(value) : dt === 'int64' ? BigInt64Array.of(BigInt(value))
      : dt === 'int32' ? Int32Array.of(value) : dt === 'bool' ? Uint8Array.of(value ? 1 : 0) : Float32Array.of(value);
    return this.constTensor(dt, [], data);
  }

  constTensor(dtype: DType, dims: readonly number[], data: TypedArray): string {
    const key = `${dtype}[${dims.join(',')}]=${valuesKey(data)}`;
    let name = this.shareConstants ? this.constCache.get(key) : undefined;
    if (!name) {
      name = `${this.prefix}const${this.constCount++}`;
      if (this.shareConstants) this.constCache.set(key, name);
      this.initializers.push({ name, dims: [...dims], dataType: ONNX_DTYPE[runtimeDType(dtype)], rawData: bytesOf(data) });
    }
    return name;
  }

  /**
   * A named initializer holding `data` as it is (a float16 tensor stays float16 in the file, so its
   * users need a Cast): what a self-contained model's weights are.
   */
  addInitializer(name: string, dtype: DType, dims: readonly number[], data: TypedArray): string {
    this.initializers.push({ name, dims: [...dims], dataType: ONNX_DTYPE[dtype], rawData: bytesOf(data) });
    return name;
  }

  addInput(name: string, dtype: DType, dims: readonly (number | string)[]): void {
    this.inputs.push({ name, elemType: ONNX_DTYPE[runtimeDType(dtype)], dims: [...dims] });
  }

  addOutput(value: string, name: string, dtype: DType, dims: readonly (number | string)[]): void {
    this.owner = -1;
    this.nodes.push({ name: `${this.prefix}out_${name}`, opType: 'Identity', input: [value], output: [name], domain: '', attribute: [] });
    this.outputs.push({ name, elemType: ONNX_DTYPE[runtimeDType(dtype)], dims: [...dims] });
  }

  /** The graph built so far (the builder's own arrays: copy before changing them). */
  toGraph(): OnnxGraph {
    return { node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }

  toBytes(): Uint8Array {
    return encodeModel(this.toGraph());
  }
}

/** ModelProto bytes for a graph (opset 18 and Microsoft's contrib domain, as every engine graph). */
export function encodeModel(graph: OnnxGraph, opts: { producerVersion?: string; metadata?: Record<string, string> } = {}): Uint8Array {
  const model = ModelProto.fromObject({
    irVersion: 8,
    producerName: 'bone-peft',
    ...(opts.producerVersion ? { producerVersion: opts.producerVersion } : {}),
    opsetImport: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'bone', node: graph.node, initializer: graph.initializer,
      input: graph.input.map(valueInfo), output: graph.output.map(valueInfo),
    },
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return ModelProto.encode(model).finish();
}

/** The values of a constant as a cache key; -0 and 0 differ (1/x tells them apart). */
export function valuesKey(data: TypedArray): string {
  return Array.from(data as ArrayLike<number | bigint>, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',');
}

function valueInfo(v: OnnxValueInfo): object {
  const dim = v.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name: v.name, type: { tensorType: { elemType: v.elemType, shape: { dim } } } };
}

export function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function encodeAttr(name: string, v: OnnxAttr): object {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`ONNX attribute ${name}: ${v} is not an integer; wrap floats as {f: value}`);
    return { name, type: ATTR_TYPE.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: ATTR_TYPE.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: ATTR_TYPE.INTS, ints: v };
  if ('f' in v) return { name, type: ATTR_TYPE.FLOAT, f: v.f };
  if ('floats' in v) return { name, type: ATTR_TYPE.FLOATS, floats: v.floats };
  const t = (v as { tensor: { dtype: DType; dims: readonly number[]; data: TypedArray } }).tensor;
  return {
    name, type: ATTR_TYPE.TENSOR,
    t: { dims: [...t.dims], dataType: ONNX_DTYPE[runtimeDType(t.dtype)], rawData: bytesOf(t.data) },
  };
}
