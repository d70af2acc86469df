/** The module tree and the layers decoder language models are built from, with PyTorch's names. */
export { ModuleError } from './errors.ts';
export { Parameter, type ParameterOptions } from './parameter.ts';
export {
  Module, ModuleList, type TensorModule, type NamedParametersOptions, type LoadStateDictOptions, type LoadStateDictResult,
} from './module.ts';
export { emptyTensor, uniformTensor, type InitMode, type InitOptions } from './init.ts';
export { Linear, type LinearOptions } from './linear.ts';
export { Embedding, type EmbeddingOptions } from './embedding.ts';
export { RMSNorm } from './rmsnorm.ts';
export {
  RotaryEmbedding, computeInvFreq, rotateHalf, applyRotaryPosEmb, ROPE_TYPES,
  type RopeType, type RopeParameters, type RotaryConfig,
} from './rotary.ts';
export { attention, attentionMask, type AttentionOptions, type AttentionMask, type AttentionMaskOptions, type AttentionImplementation, type CausalMaskParts } from './attention.ts';
export { activationClassName, getActivation, SUPPORTED_ACTIVATIONS, type Activation } from './activations.ts';
