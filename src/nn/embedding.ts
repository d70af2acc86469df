/** torch.nn.Embedding: a lookup of rows of a [num, dim] table. */
import { Tensor, getDefaultGenerator, ops } from '../engine/index.ts';
import { ModuleError } from './errors.ts';
import { emptyTensor, type InitOptions } from './init.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export interface EmbeddingOptions extends InitOptions {
  /** The row that gets no gradient through this lookup (and starts at zero), as torch's padding_idx. */
  paddingIdx?: number | null;
}

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  readonly weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: EmbeddingOptions = {}) {
    super();
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    let pad = opts.paddingIdx ?? null;
    if (pad !== null && pad < 0) pad += numEmbeddings;
    if (pad !== null && (!Number.isInteger(pad) || pad < 0 || pad >= numEmbeddings)) {
      throw new ModuleError(`Embedding(${numEmbeddings}, ${embeddingDim}): paddingIdx must be within [-${numEmbeddings}, ${numEmbeddings}), found ${opts.paddingIdx}`);
    }
    this.paddingIdx = pad;
    let w: Tensor;
    if ((opts.init ?? 'default') === 'empty') w = emptyTensor([numEmbeddings, embeddingDim]);
    else {
      w = Tensor.randn([numEmbeddings, embeddingDim], { generator: opts.generator ?? getDefaultGenerator() });
      if (pad !== null) (w.storage as Float32Array).fill(0, pad * embeddingDim, (pad + 1) * embeddingDim);
    }
    this.weight = this.registerParameter('weight', new Parameter(w));
  }

  forward(ids: Tensor): Tensor {
    if (ids.dtype !== 'int64' && ids.dtype !== 'int32') {
      throw new ModuleError(`Embedding(${this.numEmbeddings}, ${this.embeddingDim}): ids must be int64 or int32, found ${ids.dtype} [${ids.shape.join(', ')}]`);
    }
    const out = ops.embedding(this.weight.value, ids);
    if (this.paddingIdx === null || !this.weight.requiresGrad) return out;
    // torch's embedding backward skips the lookups of padding_idx, so that row never learns from
    // them: stop the gradient of those looked-up rows (cheap: [..., dim], not the whole table).
    const isPad = ids.eq(Tensor.constant(this.paddingIdx, ids.dtype)).unsqueeze(-1);
    return ops.where(isPad, ops.stopGradient(out), out);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, padding_idx=${this.paddingIdx}` : ''}`;
  }
}
