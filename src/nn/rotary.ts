/**
 * Rotary position embeddings (RoPE) as transformers computes them: inverse frequencies in float32
 * (`1 / theta^(2i/dim)`, with the `linear`, `dynamic` and `llama3` rescalings), angles
 * `position · inv_freq` in float32 from the position ids (so that left padding works), and
 * `q·cos + rotate_half(q)·sin` with the two halves of the head dimension as the rotated pairs.
 *
 * The inverse frequencies are computed here in JavaScript, rounding every intermediate to float32
 * in the order torch does (torch computes them in float32 tensors); the angles, cos and sin are
 * computed in the graph, from a fed inv_freq tensor, so that a new inv_freq (dynamic scaling)
 * recompiles nothing.
 */
import { Tensor, ops } from '../engine/index.ts';
import { ModuleError } from './errors.ts';
import { Module } from './module.ts';

export type RopeType = 'default' | 'linear' | 'dynamic' | 'llama3';
export const ROPE_TYPES: readonly RopeType[] = ['default', 'linear', 'dynamic', 'llama3'];

/** transformers 5's `rope_parameters` (snake_case, as in config.json), resolved. */
export interface RopeParameters {
  rope_type: RopeType;
  rope_theta: number;
  /** linear, dynamic, llama3. */
  factor?: number;
  /** llama3. */
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

export interface RotaryConfig {
  headDim: number;
  /** The context the model was trained for: where `dynamic` scaling starts. */
  maxPositionEmbeddings: number;
  rope: RopeParameters;
}

const f32 = Math.fround;

function requireParam(rope: RopeParameters, key: keyof RopeParameters): number {
  const v = rope[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ModuleError(`rope_type "${rope.rope_type}" needs a numeric "${key}" in rope_parameters/rope_scaling, found ${JSON.stringify(v)}`);
  }
  return v;
}

/** 1 / base^(2i/dim) in float32, base being a float32 value. */
function defaultInvFreq(base: number, dim: number): Float32Array {
  const out = new Float32Array(dim / 2);
  for (let i = 0; i < out.length; i++) {
    const e = f32(f32(2 * i) / dim);
    out[i] = f32(1 / f32(Math.pow(base, e)));
  }
  return out;
}

/**
 * The inverse frequencies for a rope type, as transformers' ROPE_INIT_FUNCTIONS compute them.
 * `seqLen` only matters for `dynamic` (the longest position + 1 seen, when beyond the trained context).
 */
export function computeInvFreq(cfg: RotaryConfig, seqLen?: number): Float32Array {
  const { headDim: dim, rope } = cfg;
  if (!Number.isInteger(dim) || dim <= 0 || dim % 2 !== 0) throw new ModuleError(`rotary embeddings need an even head_dim, found ${dim}`);
  const theta = f32(rope.rope_theta);
  switch (rope.rope_type) {
    case 'default':
      return defaultInvFreq(theta, dim);
    case 'linear': {
      const factor = f32(requireParam(rope, 'factor'));
      return defaultInvFreq(theta, dim).map((v) => f32(v / factor));
    }
    case 'dynamic': {
      const factor = requireParam(rope, 'factor');
      const maxPos = cfg.maxPositionEmbeddings;
      if (seqLen === undefined || seqLen <= maxPos) return defaultInvFreq(theta, dim);
      // base * ((factor * seq / max) - (factor - 1)) ** (dim / (dim - 2)), in float32 tensor ops.
      let x = f32(f32(factor) * seqLen);
      x = f32(x / maxPos);
      x = f32(x - f32(factor - 1));
      x = f32(Math.pow(x, dim / (dim - 2))); // torch keeps a Python-float exponent in double
      return defaultInvFreq(f32(theta * x), dim);
    }
    case 'llama3': {
      const factor = f32(requireParam(rope, 'factor'));
      const low = requireParam(rope, 'low_freq_factor');
      const high = requireParam(rope, 'high_freq_factor');
      const oldContext = requireParam(rope, 'original_max_position_embeddings');
      const lowWavelen = f32(oldContext / low);
      const highWavelen = f32(oldContext / high);
      const twoPi = f32(2 * Math.PI);
      return defaultInvFreq(theta, dim).map((inv) => {
        // torch evaluates `scalar / tensor` as reciprocal(tensor) * scalar.
        const wavelen = f32(f32(1 / inv) * twoPi);
        const scaled = wavelen > lowWavelen ? f32(inv / factor) : inv;
        if (wavelen < highWavelen || wavelen > lowWavelen) return scaled;
        let smooth = f32(f32(1 / wavelen) * f32(oldContext));
        smooth = f32(f32(smooth - f32(low)) / f32(high - low));
        const a = f32(f32(f32(1 - smooth) * scaled) / factor);
        return f32(a + f32(smooth * scaled));
      });
    }
    default:
      throw new ModuleError(`unsupported rope_type "${(rope as { rope_type: string }).rope_type}" (supported: ${ROPE_TYPES.join(', ')})`);
  }
}

/**
 * Produces cos and sin [batch, seq, head_dim] for the given position ids [batch, seq]
 * (transformers' LlamaRotaryEmbedding). It has no parameters; it is a module so that the tree
 * matches transformers' (`model.rotary_emb`).
 */
export class RotaryEmbedding extends Module {
  readonly config: RotaryConfig;
  #original: Float32Array;
  #invFreq: Tensor;
  /** `dynamic` only: the sequence length the current inv_freq was computed for (transformers' max_seq_len_cached). */
  #maxSeqLenCached: number;

  constructor(config: RotaryConfig) {
    super();
    this.config = config;
    this.#original = computeInvFreq(config);
    this.#invFreq = Tensor.fromData(this.#original, [this.#original.length]);
    this.#maxSeqLenCached = config.maxPositionEmbeddings;
  }

  /** The inverse frequencies in use now. */
  get invFreq(): Float32Array {
    return this.#invFreq.storage as Float32Array;
  }

  forward(positionIds: Tensor): { cos: Tensor; sin: Tensor } {
    if (positionIds.ndim !== 2) throw new ModuleError(`rotary_emb: position ids must be [batch, seq], found [${positionIds.shape.join(', ')}]`);
    if (this.config.rope.rope_type === 'dynamic') this.#dynamicUpdate(positionIds);
    const pos = positionIds.cast('float32').unsqueeze(-1);
    const freqs = pos.mul(this.#invFreq);
    const emb = ops.concat([freqs, freqs], -1);
    return { cos: emb.cos(), sin: emb.sin() };
  }

  /**
   * transformers' dynamic_frequency_update: grow inv_freq's context when a longer sequence comes,
   * go back to the original when a sequence within the trained context comes after a longer one.
   * It is stateful in transformers too (a shorter sequence after a longer one reuses the longer scaling).
   */
  #dynamicUpdate(positionIds: Tensor): void {
    if (!positionIds.isRealized) {
      throw new ModuleError('rotary_emb: dynamic rope scaling reads the largest position id, so position ids must be realised data');
    }
    let maxPos = -Infinity;
    const ids = positionIds.storage as ArrayLike<number | bigint>;
    for (let i = 0; i < ids.length; i++) maxPos = Math.max(maxPos, Number(ids[i]));
    const seqLen = maxPos + 1;
    const original = this.config.maxPositionEmbeddings;
    if (seqLen > this.#maxSeqLenCached) {
      const inv = computeInvFreq(this.config, seqLen);
      this.#invFreq = Tensor.fromData(inv, [inv.length]);
      this.#maxSeqLenCached = seqLen;
    }
    if (seqLen < original && this.#maxSeqLenCached > original) {
      this.#invFreq = Tensor.fromData(this.#original, [this.#original.length]);
      this.#maxSeqLenCached = original;
    }
  }

  override extraRepr(): string {
    return `head_dim=${this.config.headDim}, rope_type=${this.config.rope.rope_type}, rope_theta=${this.config.rope.rope_theta}`;
  }
}

/** The last dimension's halves (x1, x2) become (-x2, x1). */
export function rotateHalf(x: Tensor): Tensor {
  const d = x.shape[x.ndim - 1]!;
  const [x1, x2] = x.split(d / 2, -1) as [Tensor, Tensor];
  return ops.concat([x2.neg(), x1], -1);
}

/** q, k: [batch, heads, seq, head_dim]; cos, sin: [batch, seq, head_dim]. */
export function applyRotaryPosEmb(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor): [Tensor, Tensor] {
  const c = cos.unsqueeze(1);
  const s = sin.unsqueeze(1);
  return [q.mul(c).add(rotateHalf(q).mul(s)), k.mul(c).add(rotateHalf(k).mul(s))];
}
