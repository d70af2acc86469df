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
  /** After realisation: store the new parameters and optimizer state. */
  commit(): void;
}

abstract class Optimizer {
  protected readonly params: Trainable[] = [];
  protected readonly decay: number[] = [];
  /** Number of completed steps. */
  stepCount = 0;

  constructor(groups: readonly ParamGroup[] | readonly Trainable[], defaultDecay: number) {
    const list = isGroupList(groups) ? groups : [{ params: groups as readonly Trainable[] }];
    for (const g of list) for (const p of g.params) { this.params.push(p); this.decay.push(g.weightDecay ?? defaultDecay); }
  }

  abstract update(grads: readonly Tensor[], lr: number): PendingUpdate;

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

export interface AdamWState {
  step: number;
  m: Tensor[];
  v: Tensor[];
}

/** torch.optim.AdamW. */
export class AdamW extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  m: Tensor[];
  v: Tensor[];

  constructor(params: readonly ParamGroup[] | readonly Trainable[], opts: AdamWOptions = {}) {
    super(params, opts.weightDecay ?? 0.01);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.m = this.params.map((p) => Tensor.zeros(p.value.shape, p.value.dtype));
    this.v = this.params.map((p) => Tensor.zeros(p.value.shape, p.value.dtype));
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
      const m = this.m[i]!;
      const mNew = m.add(g.sub(m).mul(1 - this.beta1)); // exp_avg.lerp_(grad, 1 - beta1)
      const vNew = this.v[i]!.mul(this.beta2).add(g.mul(g).mul(1 - this.beta2));
      const denom = vNew.sqrt().div(Tensor.scalar(bc2Sqrt, dtype)).add(this.eps);
      newParams.push(decayed.sub(mNew.div(denom).mul(Tensor.scalar(stepSize, dtype))));
      newM.push(mNew);
      newV.push(vNew);
    });
    return {
      tensors: [...newParams, ...newM, ...newV],
      commit: () => {
        this.params.forEach((p, i) => { p.value = detachRealised(newParams[i]!, p.value.requiresGrad); });
        this.m = newM.map((x) => x.detach());
        this.v = newV.map((x) => x.detach());
        this.stepCount = t;
      },
    };
  }

  getState(): AdamWState { return { step: this.stepCount, m: this.m, v: this.v }; }

  setState(s: AdamWState): void {
    if (s.m.length !== this.params.length || s.v.length !== this.params.length) {
      throw new Error(`AdamW.setState: expected moments for ${this.params.length} parameters, found ${s.m.length}/${s.v.length}`);
    }
    this.stepCount = s.step;
    this.m = [...s.m];
    this.v = [...s.v];
  }
}

export interface SGDOptions {
  momentum?: number;
  weightDecay?: number;
}

/** torch.optim.SGD (with optional momentum and coupled L2 weight decay, no dampening or Nesterov). */
export class SGD extends Optimizer {
  readonly momentum: number;
  buf: (Tensor | null)[];

  constructor(params: readonly ParamGroup[] | readonly Trainable[], opts: SGDOptions = {}) {
    super(params, opts.weightDecay ?? 0);
    this.momentum = opts.momentum ?? 0;
    this.buf = this.params.map(() => null);
  }

  update(grads: readonly Tensor[], lr: number): PendingUpdate {
    this.checkGrads(grads);
    const newParams: Tensor[] = [];
    const newBuf: (Tensor | null)[] = [];
    this.params.forEach((p, i) => {
      let d = this.decay[i] ? grads[i]!.add(p.value.mul(this.decay[i]!)) : grads[i]!;
      if (this.momentum) {
        const prev = this.buf[i];
        d = prev ? prev.mul(this.momentum).add(d) : d;
        newBuf.push(d);
      } else newBuf.push(null);
      newParams.push(p.value.sub(d.mul(Tensor.scalar(lr, p.value.dtype))));
    });
    return {
      tensors: [...newParams, ...newBuf.filter((b): b is Tensor => b !== null)],
      commit: () => {
        this.params.forEach((p, i) => { p.value = detachRealised(newParams[i]!, p.value.requiresGrad); });
        this.buf = newBuf.map((b) => b?.detach() ?? null);
        this.stepCount++;
      },
    };
  }
}

function detachRealised(t: Tensor, requiresGrad: boolean): Tensor {
  const d = t.detach();
  d.requiresGrad = requiresGrad;
  return d;
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
