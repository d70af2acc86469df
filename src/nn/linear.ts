/** torch.nn.Linear: y = x Wᵀ + b with W of shape [out, in]. */
import { ops, type Tensor } from '../engine/index.ts';
import { ModuleError } from './errors.ts';
import { emptyTensor, uniformTensor, type InitOptions } from './init.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export interface LinearOptions extends InitOptions {
  /** Default true, as torch. */
  bias?: boolean;
  /** Share an existing [out, in] weight (tied input/output embeddings) instead of creating one. */
  weight?: Parameter;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const { bias = true, init = 'default', generator } = opts;
    const bound = 1 / Math.sqrt(inFeatures);
    if (opts.weight && (opts.weight.shape.length !== 2 || opts.weight.shape[0] !== outFeatures || opts.weight.shape[1] !== inFeatures)) {
      throw new ModuleError(`Linear(${inFeatures}, ${outFeatures}): a shared weight must have shape [${outFeatures}, ${inFeatures}], found [${opts.weight.shape.join(', ')}]`);
    }
    const weight = opts.weight ?? new Parameter(init === 'empty' ? emptyTensor([outFeatures, inFeatures]) : uniformTensor([outFeatures, inFeatures], bound, generator));
    this.weight = this.registerParameter('weight', weight);
    this.bias = this.registerParameter('bias', bias
      ? new Parameter(init === 'empty' ? emptyTensor([outFeatures]) : uniformTensor([outFeatures], bound, generator))
      : null);
  }

  forward(x: Tensor): Tensor {
    const last = x.shape[x.ndim - 1];
    if (x.ndim === 0 || last !== this.inFeatures) {
      throw new ModuleError(`Linear(${this.inFeatures}, ${this.outFeatures}): expected input [..., ${this.inFeatures}], found [${x.shape.join(', ')}]`);
    }
    // One 2-D product over all leading dims: ONNX Runtime fuses Transpose+MatMul into a single GEMM.
    const lead = x.shape.slice(0, -1);
    let y = ops.matmul(x.reshape([-1, this.inFeatures]), ops.transpose(this.weight.value));
    if (this.bias) y = y.add(this.bias.value);
    return y.reshape([...lead, this.outFeatures]);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
