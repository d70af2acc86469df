/**
 * Optimizers as graph builders. A training step is one graph (docs/design.md §2.5): `update()`
 * returns the lazy new parameters and optimizer moments, the caller realises them together with
 * the loss, and `commit()` swaps the realised values in. Values that change every step (learning
 * rate, bias corrections) are fed as scalar inputs, so the step graph never recompiles.
 * The arithmetic follows torch.optim (single-tensor implementations) operation by operation.
 */
import { Tensor } from '../engine/index.ts';

/** Anything holding a tensor that an optimizer replaces after each step (nn's Parameter). */
export interface Trainable {
  value: Tensor;
}

export interface ParamGroup {
  params: readonly Trainable[];
  weightDecay?: number;
}

export interface PendingUpdate {
  /** Lazy tensors to realise in the same run as the loss. */
  readonly tensors: readonly Tensor[];
  /** The new parameter values among them, in parameter order (checked before `commit`). */
  readonly params: readonly Tensor[];
  /** After realisation: store the new parameters and optimizer state. */
  commit(): void;
}

/**
 * What an optimizer carries from one step to the next (torch's `state_dict()`): the steps taken and
 * its per-parameter buffers by name (AdamW's `m` and `v`, SGD's `buf`), one entry per parameter in
 * parameter order, null where a buffer does not exist (yet).
 */
export interface OptimizerState {
  step: number;
  buffers: Record<string, (Tensor | null)[]>;
}

abstract class Optimizer {
  protected readonly params: Trainable[] = [];
  protected readonly decay: number[] = [];
  #steps = 0;

  constructor(groups: readonly ParamGroup[] | readonly Trainable[], defaultDecay: number) {
    const list = isGroupList(groups) ? groups : [{ params: groups as readonly Trainable[] }];
    for (const g of list) for (const p of g.params) { this.params.push(p); this.decay.push(g.weightDecay ?? defaultDecay); }
  }

  /** Number of completed steps. */
  get stepCount(): number { return this.#steps; }
  protected set stepCount(n: number) { this.#steps = n; }

  /** The names of the buffers `state()` holds; a saved state has these. */
  abstract readonly bufferNames: readonly string[];
  /** Whether a buffer must exist for every parameter (AdamW's moments) or may be absent (SGD's momentum before a step). */
  protected abstract readonly buffersRequired: boolean;
  protected abstract getBuffers(): Record<string, (Tensor | null)[]>;
  protected abstract setBuffers(buffers: Record<string, (Tensor | null)[]>): void;

  abstract update(grads: readonly Tensor[], lr: number): PendingUpdate;

  state(): OptimizerState {
    return { step: this.#steps, buffers: this.getBuffers() };
  }

  /** Continue from a saved state (torch's `load_state_dict`): buffers are checked against the parameters first. */
  loadState(state: OptimizerState): void {
    for (const name of this.bufferNames) {
      const list = state.buffers[name];
      if (!list || list.length !== this.params.length) {
        throw new Error(`${this.constructor.name}.loadState: expected ${this.params.length} "${name}" buffers (one per parameter), found ${list?.length ?? 0}`);
      }
      list.forEach((t, i) => {
        if (t === null) {
          if (this.buffersRequired) throw new Error(`${this.constructor.name}.loadState: "${name}" buffer ${i} is missing`);
          return;
        }
        const p = this.params[i]!.value;
        if (t.shape.join(',') !== p.shape.join(',')) {
          throw new Error(`${this.constructor.name}.loadState: "${name}" buffer ${i} has shape [${t.shape.join(', ')}], its parameter [${p.shape.join(', ')}]`);
        }
      });
    }
    this.setBuffers(Object.fromEntries(this.bufferNames.map((n) => [n, [...state.buffers[n]!]])));
    this.#steps = state.step;
  }

  protected checkGrads(grads: readonly Tensor[]): void {
    if (grads.length !== this.params.length) {
      throw new Error(`optimizer: expected ${this.params.length} gradients (one per parameter), found ${grads.length}`);
    }
    grads.forEach((g, i) => {
      const p = this.params[i]!.value;
      if (g.shape.join(',') !== p.shape.join(',')) {
        throw new Error(`optimizer: gradient ${i} has shape [${g.shape.join(', ')}], its parameter [${p.shape.join(', ')}]`);
      }
    });
  }
}

function isGroupList(x: readonly ParamGroup[] | readonly Trainable[]): x is readonly ParamGroup[] {
  return x.length > 0 && 'params' in x[0]!;
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  /** Decoupled weight decay (torch.optim.AdamW's default is 0.01). */
  weightDecay?: number;
}

/** torch.optim.AdamW. */
export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly bufferNames = ['m', 'v'] as const;
  protected readonly buffersRequired = true;
  #m: Tensor[];
  #v: Tensor[];

  constructor(params: readonly ParamGroup[] | readonly Trainable[], opts: AdamWOptions = {}) {
    super(params, opts.weightDecay ?? 0.01);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.#m = this.params.map((p) => Tensor.zeros(p.value.shape, p.value.dtype));
    this.#v = this.params.map((p) => Tensor.zeros(p.value.shape, p.value.dtype));
  }

  protected getBuffers(): Record<string, Tensor[]> { return { m: [...this.#m], v: [...this.#v] }; }
  protected setBuffers(b: Record<string, (Tensor | null)[]>): void {
    this.#m = b.m as Tensor[];
    this.#v = b.v as Tensor[];
  }

  update(grads: readonly Tensor[], lr: number): PendingUpdate {
    this.checkGrads(grads);
    const t = this.stepCount + 1;
    const stepSize = lr / (1 - this.beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    const newParams: Tensor[] = [];
    const newM: Tensor[] = [];
    const newV: Tensor[] = [];
    this.params.forEach((p, i) => {
      const dtype = p.value.dtype;
      const g = grads[i]!;
      const decayFactor = Tensor.scalar(1 - lr * this.decay[i]!, dtype);
      const decayed = this.decay[i] === 0 ? p.value : p.value.mul(decayFactor);
      const m = this.#m[i]!;
      const mNew = m.add(g.sub(m).mul(1 - this.beta1)); // exp_avg.lerp_(grad, 1 - beta1)
      const vNew = this.#v[i]!.mul(this.beta2).add(g.mul(g).mul(1 - this.beta2));
      const denom = vNew.sqrt().div(Tensor.scalar(bc2Sqrt, dtype)).add(this.eps);
      newParams.push(decayed.sub(mNew.div(denom).mul(Tensor.scalar(stepSize, dtype))));
      newM.push(mNew);
      newV.push(vNew);
    });
    return {
      tensors: [...newParams, ...newM, ...newV],
      params: newParams,
      commit: () => {
        this.params.forEach((p, i) => { p.value = newParams[i]!.detach(); });
        this.#m = newM.map((x) => x.detach());
        this.#v = newV.map((x) => x.detach());
        this.stepCount = t;
      },
    };
  }
}

export interface SGDOptions {
  momentum?: number;
  weightDecay?: number;
}

/** torch.optim.SGD (with optional momentum and coupled L2 weight decay, no dampening or Nesterov). */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly bufferNames = ['buf'] as const;
  protected readonly buffersRequired = false;
  #buf: (Tensor | null)[];

  constructor(params: readonly ParamGroup[] | readonly Trainable[], opts: SGDOptions = {}) {
    super(params, opts.weightDecay ?? 0);
    this.momentum = opts.momentum ?? 0;
    this.#buf = this.params.map(() => null);
  }

  protected getBuffers(): Record<string, (Tensor | null)[]> { return { buf: [...this.#buf] }; }
  protected setBuffers(b: Record<string, (Tensor | null)[]>): void { this.#buf = b.buf!; }

  update(grads: readonly Tensor[], lr: number): PendingUpdate {
    this.checkGrads(grads);
    const newParams: Tensor[] = [];
    const newBuf: (Tensor | null)[] = [];
    this.params.forEach((p, i) => {
      let d = this.decay[i] ? grads[i]!.add(p.value.mul(this.decay[i]!)) : grads[i]!;
      if (this.momentum) {
        const prev = this.#buf[i];
        d = prev ? prev.mul(this.momentum).add(d) : d;
        newBuf.push(d);
      } else newBuf.push(null);
      newParams.push(p.value.sub(d.mul(Tensor.scalar(lr, p.value.dtype))));
    });
    return {
      tensors: [...newParams, ...newBuf.filter((b): b is Tensor => b !== null)],
      params: newParams,
      commit: () => {
        this.params.forEach((p, i) => { p.value = newParams[i]!.detach(); });
        this.#buf = newBuf.map((b) => b?.detach() ?? null);
        this.stepCount += 1;
      },
    };
  }
}

/**
 * torch.nn.utils.clip_grad_norm_: scale all gradients by min(1, maxNorm / (‖g‖₂ + 1e-6)), lazily.
 * Returns the clipped gradients and the total norm (before clipping).
 */
export function clipGradNorm(grads: readonly Tensor[], maxNorm: number): { grads: Tensor[]; totalNorm: Tensor } {
  if (grads.length === 0) throw new Error('clipGradNorm: no gradients');
  let sq = grads[0]!.mul(grads[0]!).sum();
  for (const g of grads.slice(1)) sq = sq.add(g.mul(g).sum());
  const totalNorm = sq.sqrt();
  const coef = Tensor.scalar(maxNorm, totalNorm.dtype).div(totalNorm.add(1e-6)).minimum(1);
  return { grads: grads.map((g) => g.mul(coef)), totalNorm };
}
