/**
 * The Bone / MiSS adapter layer around a Linear (PEFT's BoneLinear / MissLinear). One trainable
 * tensor per adapter, stored under `bone_block.<adapter>` or `miss_block.<adapter>`. Unlike PEFT up
 * to 0.21, the mode (default, mini, bat) is kept per adapter, so adapters of different modes can
 * share a layer (PEFT's per-layer `miss_fn` bug, fixed upstream by PR #3379).
 */
import { Tensor, ops } from '../../engine/index.ts';
import { Linear, Parameter, uniformTensor } from '../../nn/index.ts';
import type { PeftConfig } from '../config.ts';
import { PeftError } from '../errors.ts';
import { AdapterLayer, ParameterDict } from '../tuner-layer.ts';
import { BoneConfig, MissConfig, type InitWeights } from './config.ts';
import { batDelta, batUnmergeWeight, defaultDeltaWeight, shardForward, tileMiniBlock } from './math.ts';

interface BoneAdapter {
  r: number;
  mode: InitWeights;
  miniR: number;
  dropout: number;
}

export class BoneLinear extends AdapterLayer {
  /** 'bone_' or 'miss_': the parameter dict is `<prefix>block`. */
  readonly prefix: 'bone_' | 'miss_';
  readonly block: ParameterDict;
  readonly adapters = new Map<string, BoneAdapter>();

  constructor(base: Linear, prefix: 'bone_' | 'miss_') {
    super(base);
    this.prefix = prefix;
    this.block = this.registerModule(`${prefix}block`, new ParameterDict());
  }

  adapterNames(): string[] { return [...this.adapters.keys()]; }

  adapterParameters(name: string): Parameter[] {
    const p = this.block.entries.get(name);
    return p ? [p] : [];
  }

  /** PEFT's update_layer: create the block for an adapter, checking the shapes the mode needs. */
  updateLayer(name: string, config: PeftConfig): void {
    if (!(config instanceof BoneConfig) && !(config instanceof MissConfig)) {
      throw new PeftError(`${this.prefix}block layer: cannot add a ${config.peftType} adapter "${name}" to a ${this.prefix === 'bone_' ? 'Bone' : 'MiSS'} layer`);
    }
    const { r } = config;
    const mode = config.initWeights;
    const miniR = config instanceof MissConfig ? config.miniR : 1;
    const out = this.outFeatures;
    const inF = this.inFeatures;
    // PEFT's MiSS (0.17+) refuses a block taller than the input; its Bone (0.14–0.18) did not check,
    // so legacy Bone adapters with such an r still load (and `bone convert` keeps their r).
    if (this.prefix === 'miss_' && r > inF) {
      throw new PeftError(`\`r\` (${r}) must be less than or equal to in_features (${inF}) (adapter "${name}": MiSS cuts the ${inF} inputs into shards of r; choose r ≤ ${inF}, or leave this layer out of target_modules)`);
    }
    let value: Tensor;
    if (mode === 'bat') {
      if (inF % r !== 0 || out % r !== 0) {
        throw new PeftError(`The weight matrix must be fully divisible into [r, r] blocks. (adapter "${name}": weight [${out}, ${inF}] with r=${r}; choose an r that divides both dimensions)`);
      }
      value = Tensor.zeros([out / r, r, r]);
    } else if (mode === 'mini') {
      if (out % miniR !== 0) {
        throw new PeftError(`mini_r is divided along the out_features dimension. For optimal performance and implementation simplicity,it is recommended that out_features be divisible by mini_r.Error: ${out} % mini_r != 0 (adapter "${name}": out_features ${out}, mini_r ${miniR})`);
      }
      value = Tensor.zeros([r, miniR]);
    } else if (mode === false) {
      // kaiming_uniform_(a=√5) on an [r, out] tensor: fan_in = out, bound = 1/√out.
      value = uniformTensor([r, out], 1 / Math.sqrt(out));
    } else {
      value = Tensor.zeros([r, out]);
    }
    this.block.set(name, new Parameter(value));
    this.adapters.set(name, { r, mode, miniR, dropout: config instanceof MissConfig ? config.missDropout : 0 });
  }

  deleteAdapter(name: string): void {
    this.block.delete(name);
    this.adapters.delete(name);
    this.activeAdapters = this.activeAdapters.filter((a) => a !== name);
  }

  /** The [r, out] block of a default/mini adapter. */
  #fullBlock(name: string): Tensor {
    const a = this.adapters.get(name)!;
    const b = this.block.entries.get(name)!.value;
    return a.mode === 'mini' ? tileMiniBlock(b, this.outFeatures) : b;
  }

  protected adaptedForward(x: Tensor, adapters: string[]): Tensor {
    const bat = adapters.filter((n) => this.adapters.get(n)!.mode === 'bat');
    let y: Tensor;
    if (bat.length) {
      // BAT builds its weight (chaining adapters in order, each on the already updated weight) and backpropagates through it.
      let w = this.base_layer.weight.value;
      for (const n of bat) w = w.add(batDelta(w, this.block.entries.get(n)!.value));
      const lead = x.shape.slice(0, -1);
      y = x.reshape([-1, this.inFeatures]).matmul(w.transpose());
      if (this.base_layer.bias) y = y.add(this.base_layer.bias.value);
      y = y.reshape([...lead, this.outFeatures]);
    } else {
      y = this.base_layer.forward(x);
    }
    for (const n of adapters) {
      const a = this.adapters.get(n)!;
      if (a.mode === 'bat') continue;
      const xd = a.dropout > 0 ? ops.dropout(x, a.dropout, { training: this.training }) : x;
      y = y.add(shardForward(xd, this.#fullBlock(n)));
    }
    return y;
  }

  /** The forward applies the BAT chain to the base weight and adds the shard terms after: merge in that order. */
  protected override mergeOrder(names: string[]): string[] {
    const isBat = (n: string): boolean => this.adapters.get(n)?.mode === 'bat';
    return [...names.filter(isBat), ...names.filter((n) => !isBat(n))];
  }

  protected mergedWeight(weight: Tensor, name: string): Tensor {
    const a = this.adapters.get(name)!;
    if (a.mode === 'bat') return weight.add(batDelta(weight, this.block.entries.get(name)!.value));
    return weight.add(defaultDeltaWeight(this.#fullBlock(name), this.inFeatures));
  }

  protected async unmergedWeight(weight: Tensor, name: string): Promise<Tensor> {
    const a = this.adapters.get(name)!;
    if (a.mode === 'bat') return batUnmergeWeight(weight, this.block.entries.get(name)!.value);
    return weight.sub(defaultDeltaWeight(this.#fullBlock(name), this.inFeatures));
  }

  override extraRepr(): string {
    return `${this.prefix}block: ${[...this.adapters].map(([n, a]) => `${n}(r=${a.r}, mode=${String(a.mode)})`).join(', ')}`;
  }
}
