/**
 * Lowers a traced subgraph into a GraphBuilder: each realised leaf becomes a graph input, an
 * embedded constant or a named initializer, each node its op's ONNX lowering, each target a named
 * output. realize() emits with the defaults (every data leaf is an input, fed at run time);
 * exporting a model (onnx/symbolic.ts) makes its weights initializers and names its inputs.
 */
import { f32ToF16, runtimeDType, toRuntimeArray, type DType } from '../dtype.ts';
import type { Trace } from '../realize.ts';
import type { Tensor } from '../tensor.ts';
import type { GraphBuilder } from './builder.ts';

/** What a realised, non-constant leaf becomes in the graph. */
export type LeafRole =
  | { input: string; dims?: readonly (number | string)[] }
  /** A weight stored in the model; `storeAs: 'float16'` halves its size and adds a Cast to float32 before its users. */
  | { initializer: string; storeAs?: 'float16' };

export interface EmitOptions {
  /** Default: every data leaf is an input `in<k>` (k counts inputs). */
  leaf?: (leaf: Tensor, k: number) => LeafRole;
  /** Names of the outputs, one per target; default `out<k>`. */
  outputNames?: readonly string[];
  /** Dims written for each output (default the target's shape). */
  outputDims?: readonly (readonly (number | string)[])[];
}

export interface Emitted {
  /** Graph input names, in the order of the trace's data leaves that became inputs. */
  inputNames: string[];
  /** The leaf behind each input name. */
  inputLeaves: Tensor[];
  outputNames: string[];
}

export function emitTrace(tr: Trace, g: GraphBuilder, opts: EmitOptions = {}): Emitted {
  const names = new Map<Tensor, string>();
  const inputNames: string[] = [];
  const inputLeaves: Tensor[] = [];
  for (const leaf of tr.leaves) {
    if (leaf.constant) {
      names.set(leaf, g.constTensor(runtimeDType(leaf.dtype), leaf.shape, toRuntimeArray(leaf.storage, leaf.dtype)));
      continue;
    }
    const role: LeafRole = opts.leaf ? opts.leaf(leaf, inputNames.length) : { input: `in${inputNames.length}` };
    if ('input' in role) {
      g.addInput(role.input, leaf.dtype, role.dims ?? leaf.shape);
      inputNames.push(role.input);
      inputLeaves.push(leaf);
      names.set(leaf, role.input);
    } else {
      names.set(leaf, addWeight(g, leaf, role.initializer, role.storeAs));
    }
  }
  for (const node of tr.nodes) {
    g.owner = tr.index.get(node)!;
    names.set(node, node.op!.lower(g, node.inputs.map((x) => names.get(x)!), node.attrs, node));
  }
  const outputNames = tr.targets.map((t, k) => {
    const name = opts.outputNames?.[k] ?? `out${k}`;
    g.addOutput(names.get(t)!, name, t.dtype, opts.outputDims?.[k] ?? t.shape);
    return name;
  });
  return { inputNames, inputLeaves, outputNames };
}

/** A weight as an initializer; the value name its users read (after a Cast when stored narrower). */
function addWeight(g: GraphBuilder, leaf: Tensor, name: string, storeAs: 'float16' | undefined): string {
  const dtype: DType = runtimeDType(leaf.dtype);
  if (storeAs === 'float16' && dtype === 'float32') {
    const stored = g.addInitializer(name, 'float16', leaf.shape, f32ToF16(toRuntimeArray(leaf.storage, leaf.dtype) as Float32Array));
    g.owner = -1;
    return g.node('Cast', [stored], { to: 1 });
  }
  return g.addInitializer(name, dtype, leaf.shape, toRuntimeArray(leaf.storage, leaf.dtype));
}
