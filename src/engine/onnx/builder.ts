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

interface TensorProtoJson { name: string; dims: number[]; dataType: number; rawData: Uint8Array }

export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializers: TensorProtoJson[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;
  /** Index of the engine node being lowered (prefix of node names). */
  owner = -1;

  node(opType: string, inputs: readonly string[], attrs: Record<string, OnnxAttr> = {}, domain = ''): string {
    return this.nodeMulti(opType, inputs, 1, attrs, domain)[0]!;
  }

  nodeMulti(opType: string, inputs: readonly string[], nOutputs: number, attrs: Record<string, OnnxAttr> = {}, domain = ''): string[] {
    const name = `n${this.owner}_${opType}_${this.counter++}`;
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
    let name = this.constCache.get(key);
    if (!name) {
      name = `const${this.constCache.size}`;
      this.constCache.set(key, name);
      this.initializers.push({ name, dims: [...dims], dataType: ONNX_DTYPE[runtimeDType(dtype)], rawData: bytesOf(data) });
    }
    return name;
  }

  addInput(name: string, dtype: DType, dims: readonly number[]): void {
    this.inputs.push(valueInfo(name, dtype, dims));
  }

  addOutput(value: string, name: string, dtype: DType, dims: readonly number[]): void {
    this.owner = -1;
    this.nodes.push({ name: `out_${name}`, opType: 'Identity', input: [value], output: [name], domain: '', attribute: [] });
    this.outputs.push(valueInfo(name, dtype, dims));
  }

  toBytes(): Uint8Array {
    const model = ModelProto.fromObject({
      irVersion: 8,
      producerName: 'bone-peft',
      opsetImport: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }],
      graph: { name: 'bone', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
    });
    return ModelProto.encode(model).finish();
  }
}

/** The values of a constant as a cache key; -0 and 0 differ (1/x tells them apart). */
export function valuesKey(data: TypedArray): string {
  return Array.from(data as ArrayLike<number | bigint>, (v) => (Object.is(v, -0) ? '-0' : String(v))).join(',');
}

function valueInfo(name: string, dtype: DType, dims: readonly number[]): object {
  return {
    name,
    type: { tensorType: { elemType: ONNX_DTYPE[runtimeDType(dtype)], shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  };
}

function bytesOf(data: TypedArray): Uint8Array {
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
