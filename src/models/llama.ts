/**
 * The Llama architecture (transformers' modeling_llama), which Mistral, Qwen2 and Qwen3 reuse with
 * small differences (biases, q/k norms, sliding windows) passed as ArchitectureOptions. Module
 * names and nesting are transformers', so state-dict keys are identical:
 *
 *   model.embed_tokens, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj, self_attn.{q,k}_norm,
 *   post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm, model.rotary_emb, lm_head
 */
import { Tensor, Generator, checkpoint, ops, type Shape } from '../engine/index.ts';
import {
  Embedding, Linear, Module, ModuleList, RMSNorm, RotaryEmbedding, applyRotaryPosEmb, attention, attentionMask as buildAttentionMask,
  activationClassName, getActivation, type Activation, type AttentionImplementation, type AttentionMask, type TensorModule,
} from '../nn/index.ts';
import { KVCache, type DecoderCache, type LayerKV } from './cache.ts';
import type { CausalLM, CausalLMInput, CausalLMOutput } from './causal-lm.ts';
import type { ConfigSpec, DecoderConfig } from './config.ts';
import { ModelError } from './errors.ts';
import { causalLMLoss, causalLMLossFromHidden } from './loss.ts';
import { positionIdsFromMask, positionIdsRange } from './masking.ts';

/** LlamaConfig's defaults (transformers 5.18). */
export const LLAMA_CONFIG: ConfigSpec = {
  modelType: 'llama',
  defaults: {
    vocab_size: 32000, hidden_size: 4096, intermediate_size: 11008, num_hidden_layers: 32, num_attention_heads: 32,
    num_key_value_heads: null, head_dim: null, hidden_act: 'silu', max_position_embeddings: 2048, initializer_range: 0.02,
    rms_norm_eps: 1e-6, pad_token_id: null, bos_token_id: 1, eos_token_id: 2, pretraining_tp: 1,
    tie_word_embeddings: false, attention_bias: false, attention_dropout: 0, mlp_bias: false,
  },
};

/** What distinguishes the Llama-family members structurally. */
export interface ArchitectureOptions {
  /** Bias on q_proj, k_proj, v_proj. */
  qkvBias: boolean;
  /** Bias on o_proj. */
  oBias: boolean;
  /** Bias on gate/up/down_proj. */
  mlpBias: boolean;
  /** Qwen3: RMSNorm over head_dim on queries and keys (self_attn.q_norm, k_norm), before rotary. */
  qkNorm: boolean;
  /** Sliding window per layer (null: full causal attention). */
  slidingWindows: readonly (number | null)[];
}

export function llamaArchitecture(config: DecoderConfig): ArchitectureOptions {
  const bias = config.attention_bias ?? false;
  return {
    qkvBias: bias, oBias: bias, mlpBias: config.mlp_bias ?? false, qkNorm: false,
    slidingWindows: new Array<null>(config.num_hidden_layers).fill(null),
  };
}

/** Modules are created with lazy placeholder weights (nothing allocated); load or initWeights() fills them. */
const EMPTY = { init: 'empty' } as const;

export class LlamaMLP extends Module {
  gate_proj: TensorModule;
  up_proj: TensorModule;
  down_proj: TensorModule;
  readonly act: Activation;
  readonly hiddenAct: string;

  constructor(config: DecoderConfig, arch: ArchitectureOptions) {
    super();
    const bias = arch.mlpBias;
    this.gate_proj = this.registerModule('gate_proj', new Linear(config.hidden_size, config.intermediate_size, { bias, ...EMPTY }));
    this.up_proj = this.registerModule('up_proj', new Linear(config.hidden_size, config.intermediate_size, { bias, ...EMPTY }));
    this.down_proj = this.registerModule('down_proj', new Linear(config.intermediate_size, config.hidden_size, { bias, ...EMPTY }));
    this.act = getActivation(config.hidden_act);
    this.hiddenAct = config.hidden_act;
    // transformers' LlamaMLP holds the activation as a module (`act_fn`): PEFT sees it when it matches target_modules.
    this.declareAbsentModule('act_fn', activationClassName(config.hidden_act));
  }

  forward(x: Tensor): Tensor {
    const gate = this.gate_proj.forward(x);
    const up = this.up_proj.forward(x);
    // SiLU's gated product as one op, whose backward keeps only gate and up (docs/design.md, memory plan).
    const product = this.hiddenAct === 'silu' || this.hiddenAct === 'swish' ? ops.siluMul(gate, up) : this.act(gate).mul(up);
    return this.down_proj.forward(product);
  }
}

/** What every layer's attention shares in one forward. */
export interface AttentionInputs {
  /** [batch or 1, seq, head_dim]. */
  cos: Tensor;
  sin: Tensor;
  /** This layer's mask (causal, padding, sliding window). */
  mask: AttentionMask;
  /** With a cache: it, this layer's index in it, and the slots the new keys/values go to. */
  cache: { cache: DecoderCache; layer: number; slots: Tensor } | null;
}

export class LlamaAttention extends Module {
  readonly layerIdx: number;
  readonly headDim: number;
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly scaling: number;
  readonly attentionDropout: number;
  q_proj: TensorModule;
  k_proj: TensorModule;
  v_proj: TensorModule;
  o_proj: TensorModule;
  q_norm: RMSNorm | null = null;
  k_norm: RMSNorm | null = null;
  /** Recompute the attention probabilities in the backward pass (less memory, more time); see setAttentionRecompute. */
  recomputeAttention = false;
  /** Blocked attention where it applies (the default), or always the [T, S] composite; see setAttentionImplementation. */
  attentionImplementation: AttentionImplementation = 'blocked';

  constructor(config: DecoderConfig, layerIdx: number, arch: ArchitectureOptions) {
    super();
    this.layerIdx = layerIdx;
    this.headDim = config.head_dim;
    this.numHeads = config.num_attention_heads;
    this.numKeyValueHeads = config.num_key_value_heads;
    this.scaling = this.headDim ** -0.5;
    this.attentionDropout = config.attention_dropout;
    const H = config.hidden_size;
    this.q_proj = this.registerModule('q_proj', new Linear(H, this.numHeads * this.headDim, { bias: arch.qkvBias, ...EMPTY }));
    this.k_proj = this.registerModule('k_proj', new Linear(H, this.numKeyValueHeads * this.headDim, { bias: arch.qkvBias, ...EMPTY }));
    this.v_proj = this.registerModule('v_proj', new Linear(H, this.numKeyValueHeads * this.headDim, { bias: arch.qkvBias, ...EMPTY }));
    this.o_proj = this.registerModule('o_proj', new Linear(this.numHeads * this.headDim, H, { bias: arch.oBias, ...EMPTY }));
    if (arch.qkNorm) {
      this.q_norm = this.registerModule('q_norm', new RMSNorm(this.headDim, config.rms_norm_eps, EMPTY));
      this.k_norm = this.registerModule('k_norm', new RMSNorm(this.headDim, config.rms_norm_eps, EMPTY));
    }
  }

  /** hidden [batch, seq, hidden] → [batch, seq, hidden], and this layer's keys/values when caching. */
  forward(hidden: Tensor, inputs: AttentionInputs): { output: Tensor; present: LayerKV | null } {
    const [B, T] = hidden.shape as [number, number, number];
    const heads = (t: Tensor, n: number, norm: RMSNorm | null): Tensor => {
      const split = t.reshape([B, T, n, this.headDim]);
      return (norm ? norm.forward(split) : split).transpose(1, 2);
    };
    let q = heads(this.q_proj.forward(hidden), this.numHeads, this.q_norm);
    let k = heads(this.k_proj.forward(hidden), this.numKeyValueHeads, this.k_norm);
    let v = heads(this.v_proj.forward(hidden), this.numKeyValueHeads, null);
    [q, k] = applyRotaryPosEmb(q, k, inputs.cos, inputs.sin);
    let present: LayerKV | null = null;
    if (inputs.cache) {
      present = inputs.cache.cache.write(inputs.cache.layer, inputs.cache.slots, k, v);
      ({ key: k, value: v } = present);
    }
    const out = attention(q, k, v, {
      mask: inputs.mask, scale: this.scaling, dropout: this.attentionDropout, training: this.training,
      recompute: this.recomputeAttention, implementation: this.attentionImplementation,
    });
    return { output: this.o_proj.forward(out.transpose(1, 2).reshape([B, T, this.numHeads * this.headDim])), present };
  }
}

export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(config: DecoderConfig, layerIdx: number, arch: ArchitectureOptions) {
    super();
    this.self_attn = this.registerModule('self_attn', new LlamaAttention(config, layerIdx, arch));
    this.mlp = this.registerModule('mlp', new LlamaMLP(config, arch));
    this.input_layernorm = this.registerModule('input_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps, EMPTY));
    this.post_attention_layernorm = this.registerModule('post_attention_layernorm', new RMSNorm(config.hidden_size, config.rms_norm_eps, EMPTY));
  }

  forward(hidden: Tensor, inputs: AttentionInputs): { hidden: Tensor; present: LayerKV | null } {
    const { output, present } = this.self_attn.forward(this.input_layernorm.forward(hidden), inputs);
    const h = hidden.add(output);
    return { hidden: h.add(this.mlp.forward(this.post_attention_layernorm.forward(h))), present };
  }
}

export interface BaseModelOutput {
  lastHiddenState: Tensor;
  pastKeyValues?: DecoderCache;
}

export class LlamaModel extends Module {
  readonly config: DecoderConfig;
  readonly arch: ArchitectureOptions;
  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  rotary_emb: RotaryEmbedding;
  /** In training, recompute each decoder layer's forward in the backward pass (see setGradientCheckpointing). */
  gradientCheckpointing = false;

  constructor(config: DecoderConfig, arch: ArchitectureOptions) {
    super();
    if (arch.slidingWindows.length !== config.num_hidden_layers) {
      throw new ModelError(`${config.model_type}: ${arch.slidingWindows.length} sliding-window entries for ${config.num_hidden_layers} layers`);
    }
    this.config = config;
    this.arch = arch;
    this.embed_tokens = this.registerModule('embed_tokens', new Embedding(config.vocab_size, config.hidden_size, { paddingIdx: config.pad_token_id, ...EMPTY }));
    this.layers = this.registerModule('layers', new ModuleList(
      Array.from({ length: config.num_hidden_layers }, (_, i) => new LlamaDecoderLayer(config, i, arch))));
    this.norm = this.registerModule('norm', new RMSNorm(config.hidden_size, config.rms_norm_eps, EMPTY));
    this.rotary_emb = this.registerModule('rotary_emb', new RotaryEmbedding({
      headDim: config.head_dim, maxPositionEmbeddings: config.max_position_embeddings, rope: config.rope_parameters,
    }));
  }

  forward(input: Omit<CausalLMInput, 'labels' | 'logitsToKeep'>): BaseModelOutput {
    const { inputIds, attentionMask = null, pastKeyValues: cache = null, segmentIds = null } = input;
    if (inputIds.ndim !== 2 || (inputIds.dtype !== 'int64' && inputIds.dtype !== 'int32')) {
      throw new ModelError(`${this.config.model_type}: inputIds must be int64 [batch, seq], found ${inputIds.dtype} [${inputIds.shape.join(', ')}]`);
    }
    const [B, T] = inputIds.shape as [number, number];
    const past = cache?.length ?? 0;
    if (cache && cache.batchSize !== B) throw new ModelError(`${this.config.model_type}: a cache for batch ${cache.batchSize} cannot take inputIds of batch ${B}`);
    if (attentionMask && (attentionMask.ndim !== 2 || attentionMask.shape[0] !== B)) {
      throw new ModelError(`${this.config.model_type}: attentionMask must be [${B}, ${past + T}], found [${attentionMask.shape.join(', ')}]`);
    }
    if (segmentIds && (cache || segmentIds.ndim !== 2 || segmentIds.shape[1] !== T || (segmentIds.shape[0] !== B && segmentIds.shape[0] !== 1))) {
      throw new ModelError(`${this.config.model_type}: segmentIds must be [${B}, ${T}] (as inputIds) and need no cache, found [${segmentIds.shape.join(', ')}]${cache ? ' with a cache' : ''}`);
    }
    if (!cache && attentionMask && attentionMask.shape[1] !== T) {
      throw new ModelError(`${this.config.model_type}: attentionMask must be [${B}, ${T}] (as inputIds), found [${attentionMask.shape.join(', ')}]`);
    }

    let positionIds = input.positionIds ?? null;
    // (A mask may span every cache slot: the new tokens end at column past + T.)
    if (!positionIds) positionIds = attentionMask ? positionIdsFromMask(attentionMask, T, past + T) : positionIdsRange(past, T);
    else if (positionIds.ndim !== 2 || positionIds.shape[1] !== T || (positionIds.shape[0] !== B && positionIds.shape[0] !== 1)) {
      throw new ModelError(`${this.config.model_type}: positionIds must be [${B}, ${T}] or [1, ${T}], found [${positionIds.shape.join(', ')}]`);
    }

    // Keys are the sequence itself, or the cache's key columns (for KVCache every slot: unwritten ones are causally in the future).
    const keyLen = cache ? cache.keyLength(T) : T;
    const querySlots = cache ? cache.querySlots(T) : undefined;
    const keyValid = attentionMask ? (cache ? cache.keyMask(attentionMask, T) : attentionMask) : null;
    const masks = new Map<number | null, AttentionMask>();
    const maskFor = (window: number | null): AttentionMask => {
      let m = masks.get(window);
      if (!m) {
        m = buildAttentionMask({ queryLen: T, keyLen, keyValid, slidingWindow: window, segmentIds, ...(querySlots ? { querySlots } : {}) });
        masks.set(window, m);
      }
      return m;
    };

    const { cos, sin } = this.rotary_emb.forward(positionIds);
    let hidden = this.embed_tokens.forward(inputIds);
    const presents: LayerKV[] = [];
    let i = 0;
    const checkpointing = this.gradientCheckpointing && this.training && !cache;
    for (const layer of this.layers) {
      const layerCache = cache && querySlots ? { cache, layer: i, slots: querySlots } : null;
      const inputs = { cos, sin, mask: maskFor(this.arch.slidingWindows[i] ?? null), cache: layerCache };
      if (checkpointing) {
        const trainable = layer.parameters().filter((p) => p.requiresGrad).map((p) => p.value);
        hidden = checkpoint((x) => layer.forward(x, inputs).hidden, hidden, trainable);
      } else {
        const out = layer.forward(hidden, inputs);
        hidden = out.hidden;
        if (out.present) presents.push(out.present);
      }
      i++;
    }
    const result: BaseModelOutput = { lastHiddenState: this.norm.forward(hidden) };
    if (cache) result.pastKeyValues = cache.advance(T, presents);
    return result;
  }
}

/**
 * Trade time for memory in training: every attention layer of the model recomputes its probabilities
 * in the backward pass instead of keeping them from the forward pass (about 0.5 GB less for
 * SmolLM2-135M at batch 4 × 256, about 10 % more time per step). Returns the number of layers set.
 */
export function setAttentionRecompute(model: Module, on = true): number {
  return setOnEach(model, LlamaAttention, (m) => { m.recomputeAttention = on; });
}

/**
 * How every attention layer of the model computes: 'blocked' (the default: a block of queries at a
 * time, nothing [T, T]-sized kept; ops.blockedCausalAttention) or 'composite' (the whole [T, S]
 * product, its probabilities kept for the backward pass; what the engine did before blocked
 * attention, kept to compare against). Layers with a cache or attention dropout use the composite
 * either way. Returns the number of layers set.
 */
export function setAttentionImplementation(model: Module, implementation: AttentionImplementation): number {
  return setOnEach(model, LlamaAttention, (m) => { m.attentionImplementation = implementation; });
}

/**
 * Gradient checkpointing, as transformers' gradient_checkpointing_enable(): in training, each
 * decoder layer keeps only its input for the backward pass and runs its forward again there, so a
 * training step holds one layer's activations at a time instead of every layer's (for about one more
 * forward pass of time). Gradients reach the trainable parameters (requiresGrad) only. Returns the
 * number of models set.
 */
export function setGradientCheckpointing(model: Module, on = true): number {
  return setOnEach(model, LlamaModel, (m) => { m.gradientCheckpointing = on; });
}

/** Apply `set` to every module of `model` that is a `kind`; returns how many there were. */
function setOnEach<M extends Module>(model: Module, kind: abstract new (...args: never[]) => M, set: (m: M) => void): number {
  let n = 0;
  for (const m of model.modules()) {
    if (m instanceof kind) { set(m); n++; }
  }
  return n;
}

export class LlamaForCausalLM extends Module implements CausalLM {
  readonly config: DecoderConfig;
  model: LlamaModel;
  lm_head: TensorModule;

  constructor(config: DecoderConfig, arch: ArchitectureOptions = llamaArchitecture(config)) {
    super();
    this.config = config;
    this.model = this.registerModule('model', new LlamaModel(config, arch));
    // Tied: lm_head shares the embedding's Parameter (one tensor, saved once as model.embed_tokens.weight).
    const tied = config.tie_word_embeddings ? { weight: this.model.embed_tokens.weight } : {};
    this.lm_head = this.registerModule('lm_head', new Linear(config.hidden_size, config.vocab_size, { bias: false, ...EMPTY, ...tied }));
  }

  forward(input: CausalLMInput): CausalLMOutput {
    const { labels = null, logitsToKeep = 0, numItemsInBatch } = input;
    const { lastHiddenState, pastKeyValues } = this.model.forward(input);
    if (!Number.isInteger(logitsToKeep) || logitsToKeep < 0) throw new ModelError(`logitsToKeep must be a non-negative integer, found ${logitsToKeep}`);
    const kept = logitsToKeep > 0 ? lastHiddenState.slice(1, -logitsToKeep) : lastHiddenState;
    const logits = this.lm_head.forward(kept);
    const out: CausalLMOutput = { logits };
    if (labels) {
      if (logitsToKeep > 0) throw new ModelError('labels need logits for every position: do not pass logitsToKeep with labels');
      const lossOptions = numItemsInBatch === undefined ? {} : { numItemsInBatch };
      // A head wrapped by an adapter (or modules_to_save) is not a Linear: it keeps the plain path.
      const fusable = this.training && this.lm_head instanceof Linear && this.lm_head.bias === null;
      out.loss = fusable
        ? causalLMLossFromHidden(lastHiddenState, (this.lm_head as Linear).weight.value, labels, lossOptions)
        : causalLMLoss(logits, labels, lossOptions);
    }
    if (pastKeyValues) out.pastKeyValues = pastKeyValues;
    return out;
  }

  createCache(batchSize: number, capacity: number): KVCache {
    return KVCache.create({
      numLayers: this.config.num_hidden_layers, batchSize, numKeyValueHeads: this.config.num_key_value_heads,
      headDim: this.config.head_dim, capacity,
    });
  }

  /**
   * Random weights as transformers' _init_weights: Linear and Embedding weights from
   * Normal(0, initializer_range) (padding row zero), biases zero, norms one. For tests and
   * training from scratch; the numbers are this engine's generator's, not torch's.
   */
  initWeights(opts: { seed?: number; std?: number } = {}): this {
    const std = opts.std ?? (typeof this.config.initializer_range === 'number' ? this.config.initializer_range : 0.02);
    const generator = new Generator(opts.seed ?? 0);
    const normal = (shape: Shape): Tensor => Tensor.randn(shape, { std, generator });
    for (const m of this.modules()) {
      if (m instanceof Linear) {
        if (!(m === this.lm_head && this.config.tie_word_embeddings)) m.weight.value = normal(m.weight.shape);
        if (m.bias) m.bias.value = Tensor.zeros(m.bias.shape);
      } else if (m instanceof Embedding) {
        const w = normal(m.weight.shape);
        if (m.paddingIdx !== null) (w.storage as Float32Array).fill(0, m.paddingIdx * m.embeddingDim, (m.paddingIdx + 1) * m.embeddingDim);
        m.weight.value = w;
      } else if (m instanceof RMSNorm) {
        m.weight.value = Tensor.ones(m.weight.shape);
      }
    }
    return this;
  }
}
