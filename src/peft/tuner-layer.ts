/**
 * What every adapter layer shares (PEFT's BaseTunerLayer): it wraps a Linear as `base_layer`, keeps
 * per-adapter state keyed by adapter name, knows which adapters are active and which are merged into
 * the base weight, and can be disabled. The method-specific math lives in the subclasses.
 */
import { Tensor, checkFinite } from '../engine/index.ts';
import { Linear, Module, Parameter, type TensorModule } from '../nn/index.ts';
import type { PeftConfig } from './config.ts';
import { PeftError } from './errors.ts';

/** torch's ParameterDict: parameters keyed by adapter name, so that paths read `q_proj.miss_block.default`. */
export class ParameterDict extends Module {
  readonly entries = new Map<string, Parameter>();

  set(name: string, p: Parameter): void {
    this.registerParameter(name, p);
    this.entries.set(name, p);
  }

  delete(name: string): void {
    this.unregister(name);
    this.entries.delete(name);
  }
}

/** torch's ModuleDict keyed by adapter name (LoRA's lora_A / lora_B). */
export class ModuleDict<M extends Module> extends Module {
  readonly entries = new Map<string, M>();

  set(name: string, m: M): void {
    this.registerModule(name, m);
    this.entries.set(name, m);
  }

  delete(name: string): void {
    this.unregister(name);
    this.entries.delete(name);
  }
}

export abstract class AdapterLayer extends Module implements TensorModule {
  readonly base_layer: Linear;
  /** Adapters applied in forward, in order. */
  activeAdapters: string[] = [];
  /** Adapters whose update is in the base weight, in merge order (unmerged last-in first-out). */
  mergedAdapters: string[] = [];
  disabled = false;

  constructor(base: Linear) {
    super();
    this.base_layer = this.registerModule('base_layer', base);
  }

  get inFeatures(): number { return this.base_layer.inFeatures; }
  get outFeatures(): number { return this.base_layer.outFeatures; }
  get merged(): boolean { return this.mergedAdapters.length > 0; }

  /** Adapter names held by this layer. */
  abstract adapterNames(): string[];
  abstract updateLayer(adapterName: string, config: PeftConfig): void;
  abstract deleteAdapter(adapterName: string): void;
  /** The trainable parameters of one adapter. */
  abstract adapterParameters(adapterName: string): Parameter[];
  /** The base weight with one more adapter merged into `weight`. */
  protected abstract mergedWeight(weight: Tensor, adapterName: string): Tensor;
  /** The inverse of mergedWeight. */
  protected abstract unmergedWeight(weight: Tensor, adapterName: string): Promise<Tensor>;
  /** The order in which adapters enter the weight, so that merged and unmerged forwards agree. */
  protected mergeOrder(names: string[]): string[] { return names; }
  /** The forward pass with the active (unmerged) adapters. */
  protected abstract adaptedForward(x: Tensor, adapters: string[]): Tensor;

  forward(x: Tensor): Tensor {
    if (this.disabled) {
      if (this.merged) throw new PeftError(`${this.constructor.name}: adapters are merged into the base weight; unmerge before running with adapters disabled`);
      return this.base_layer.forward(x);
    }
    if (this.merged) return this.base_layer.forward(x);
    const adapters = this.activeAdapters.filter((a) => this.adapterNames().includes(a));
    return adapters.length ? this.adaptedForward(x, adapters) : this.base_layer.forward(x);
  }

  setAdapter(names: readonly string[], trainable: boolean): void {
    this.activeAdapters = [...names];
    for (const name of this.adapterNames()) {
      for (const p of this.adapterParameters(name)) p.requiresGrad = trainable && names.includes(name);
    }
  }

  /**
   * Merge adapters into the base weight (PEFT's merge). With `safeMerge` the result is checked for
   * NaN/Inf before it replaces the weight: the base weight is never touched by a failed merge.
   */
  async merge(adapterNames: readonly string[], safeMerge = false, warn: (m: string) => void = console.warn): Promise<void> {
    const todo = adapterNames.filter((a) => !this.mergedAdapters.includes(a));
    if (todo.length === 0) { warn('All adapters are already merged, nothing to do.'); return; }
    const already = adapterNames.filter((a) => this.mergedAdapters.includes(a));
    if (already.length) warn(`Already following adapters were merged ${already.join(',')}. You are now additionally merging ${todo.join(',')}.`);
    const weight = this.base_layer.weight;
    for (const name of this.mergeOrder(todo)) {
      if (!this.adapterNames().includes(name)) continue;
      const next = this.mergedWeight(weight.value, name);
      if (safeMerge) {
        await checkFinite({ merged: next }).catch(() => {
          throw new PeftError(`NaNs detected in the merged weights. The adapter ${name} seems to be broken`);
        });
      } else await next.realize();
      weight.value = next.detach();
      this.mergedAdapters.push(name);
    }
  }

  async unmerge(warn: (m: string) => void = console.warn): Promise<void> {
    if (!this.merged) { warn('Already unmerged. Nothing to do.'); return; }
    const weight = this.base_layer.weight;
    while (this.mergedAdapters.length) {
      const name = this.mergedAdapters.pop()!;
      weight.value = (await (await this.unmergedWeight(weight.value, name)).realize()).detach();
    }
  }
}
