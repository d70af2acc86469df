/**
 * The LoRA layer around a Linear (PEFT's lora.Linear), the baseline: y = base(x) + s · B(A(dropout(x)))
 * with A [r, in], B [out, r] stored as `lora_A.<adapter>.weight` / `lora_B.<adapter>.weight`.
 */
import { Tensor, ops } from '../../engine/index.ts';
import { Linear, Parameter, uniformTensor } from '../../nn/index.ts';
import type { PeftConfig } from '../config.ts';
import { PeftError } from '../errors.ts';
import { AdapterLayer, ModuleDict } from '../tuner-layer.ts';
import { LoraConfig } from './config.ts';

interface LoraAdapter { r: number; scaling: number; dropout: number }

export class LoraLinear extends AdapterLayer {
  readonly lora_A: ModuleDict<Linear>;
  readonly lora_B: ModuleDict<Linear>;
  readonly adapters = new Map<string, LoraAdapter>();

  constructor(base: Linear) {
    super(base);
    this.lora_A = this.registerModule('lora_A', new ModuleDict<Linear>());
    this.lora_B = this.registerModule('lora_B', new ModuleDict<Linear>());
  }

  adapterNames(): string[] { return [...this.adapters.keys()]; }

  adapterParameters(name: string): Parameter[] {
    const a = this.lora_A.entries.get(name);
    const b = this.lora_B.entries.get(name);
    return a && b ? [a.weight, b.weight] : [];
  }

  updateLayer(name: string, config: PeftConfig): void {
    if (!(config instanceof LoraConfig)) throw new PeftError(`lora layer: cannot add a ${config.peftType} adapter "${name}" to a LoRA layer`);
    const { r } = config;
    const A = new Linear(this.inFeatures, r, { bias: false });
    const B = new Linear(r, this.outFeatures, { bias: false });
    if (config.initLoraWeights === true) {
      // kaiming_uniform_(a=√5) on A: U(±1/√in); B zeros, so the adapter starts as the identity.
      A.weight.value = uniformTensor([r, this.inFeatures], 1 / Math.sqrt(this.inFeatures));
      B.weight.value = Tensor.zeros([this.outFeatures, r]);
    } else if (config.initLoraWeights === 'gaussian') {
      A.weight.value = Tensor.randn([r, this.inFeatures], { std: 1 / r });
      B.weight.value = Tensor.zeros([this.outFeatures, r]);
    }
    this.lora_A.set(name, A);
    this.lora_B.set(name, B);
    this.adapters.set(name, { r, scaling: config.scaling, dropout: config.loraDropout });
  }

  deleteAdapter(name: string): void {
    this.lora_A.delete(name);
    this.lora_B.delete(name);
    this.adapters.delete(name);
    this.activeAdapters = this.activeAdapters.filter((a) => a !== name);
  }

  protected adaptedForward(x: Tensor, adapters: string[]): Tensor {
    let y = this.base_layer.forward(x);
    for (const n of adapters) {
      const a = this.adapters.get(n)!;
      const xd = a.dropout > 0 ? ops.dropout(x, a.dropout, { training: this.training }) : x;
      y = y.add(this.lora_B.entries.get(n)!.forward(this.lora_A.entries.get(n)!.forward(xd)).mul(a.scaling));
    }
    return y;
  }

  #delta(name: string): Tensor {
    const a = this.adapters.get(name)!;
    return this.lora_B.entries.get(name)!.weight.value.matmul(this.lora_A.entries.get(name)!.weight.value).mul(a.scaling);
  }

  protected mergedWeight(weight: Tensor, name: string): Tensor { return weight.add(this.#delta(name)); }
  protected async unmergedWeight(weight: Tensor, name: string): Promise<Tensor> { return weight.sub(this.#delta(name)); }
}
