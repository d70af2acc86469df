/**
 * A Parameter is a named slot that holds the current tensor of a weight. Tensors are immutable
 * values in this engine, so an optimizer "updates" a weight by realising a new tensor and putting it
 * in the slot (`param.value = next`); modules read `param.value` at every forward, never cache it.
 */
import type { DType, Shape, Tensor } from '../engine/index.ts';
import { ModuleError } from './errors.ts';

export interface ParameterOptions {
  /** Whether training should compute a gradient for it (torch's requires_grad). Default true. */
  requiresGrad?: boolean;
}

export class Parameter {
  #value: Tensor;
  requiresGrad: boolean;

  constructor(value: Tensor, opts: ParameterOptions = {}) {
    this.#value = value;
    this.requiresGrad = opts.requiresGrad ?? true;
  }

  get value(): Tensor { return this.#value; }

  /** Replace the tensor; shape and dtype must stay those of the parameter (optimizer steps, loading). */
  set value(t: Tensor) {
    const cur = this.#value;
    if (t.dtype !== cur.dtype || t.shape.length !== cur.shape.length || t.shape.some((d, i) => d !== cur.shape[i])) {
      throw new ModuleError(`Parameter: expected a ${cur.dtype} tensor of shape [${cur.shape.join(', ')}], found ${t.dtype} [${t.shape.join(', ')}]`);
    }
    this.#value = t;
  }

  get shape(): Shape { return this.#value.shape; }
  get dtype(): DType { return this.#value.dtype; }
  get size(): number { return this.#value.size; }

  toString(): string {
    return `Parameter(${this.#value.dtype}[${this.#value.shape.join(', ')}]${this.requiresGrad ? '' : ', frozen'})`;
  }
}
