/**
 * BoneConfig (PEFT 0.14–0.18, peft_type "BONE") and MissConfig (PEFT 0.17+, peft_type "MISS"):
 * the same method, MiSS adding dropout on the adapter input and the `mini` mode. Each field is
 * declared once, with PEFT's help text; the classes, their option types and their JSON come from
 * the declarations (../config.ts).
 */
import { choiceField, integerField, numberField, rankField, type FieldOptions } from '../config-fields.ts';
import { defineAdapterConfig, type PeftConfigOptions } from '../config.ts';

/** true = Bone/MiSS default (zeros), false = random (kaiming) init, 'bat' = block affine, 'mini' = MiSS mini. */
export type InitWeights = boolean | 'bat' | 'mini';

export const BONE_FIELDS = {
  r: rankField({
    json: 'r', default: 64,
    help: 'The rank of Bone: in_features is cut into shards of r that share one [r, out_features] block (an even r keeps the default initialization valid).',
  }),
  initWeights: choiceField([true, false, 'bat'] as const, {
    json: 'init_weights', default: true,
    help: "Bone's variant and initialization: true is Bone (a zero block shared by the shards), 'bat' the block-affine variant, false a random block.",
  }),
};

export const MISS_FIELDS = {
  r: rankField({
    json: 'r', default: 64,
    help: 'The rank of MiSS along in_features: the input is cut into shards of r that share one [r, out_features] block (an even r keeps the default initialization valid).',
  }),
  initWeights: choiceField([true, false, 'bat', 'mini'] as const, {
    json: 'init_weights', default: true,
    help: "The MiSS variant: true is MiSS balance (a zero [r, out_features] block shared by the shards), 'bat' the block-affine variant (nonlinear updates across shards), 'mini' a smaller [r, mini_r] block tiled over the outputs; false starts the block random instead of zero.",
  }),
  miniR: integerField({
    json: 'mini_r', default: 1, min: 1,
    help: "The rank along out_features for init_weights 'mini' (out_features must be divisible by it; mini_r = out_features is plain MiSS).",
  }),
  missDropout: numberField({ json: 'miss_dropout', default: 0, min: 0, max: 1, maxExclusive: true, float: true, help: "The dropout probability on the MiSS layers' input." }),
};

export type BoneConfigOptions = PeftConfigOptions & FieldOptions<typeof BONE_FIELDS>;
export type MissConfigOptions = PeftConfigOptions & FieldOptions<typeof MISS_FIELDS>;

export class BoneConfig extends defineAdapterConfig({ peftType: 'BONE', className: 'BoneConfig', fields: BONE_FIELDS }) {
  get mode(): InitWeights { return this.initWeights; }
}

export class MissConfig extends defineAdapterConfig({ peftType: 'MISS', className: 'MissConfig', fields: MISS_FIELDS }) {
  get mode(): InitWeights { return this.initWeights; }
}
