/** transformers' ACT2FN for the activations decoder MLPs use, by their config.json names. */
import type { Tensor } from '../engine/index.ts';
import { ModuleError } from './errors.ts';

export type Activation = (x: Tensor) => Tensor;

/** Each activation with the class transformers 5.18's ACT2FN makes for it (a module there, a function here). */
const ACT2FN: Readonly<Record<string, { fn: Activation; className: string }>> = {
  silu: { fn: (x) => x.silu(), className: 'SiLUActivation' },
  swish: { fn: (x) => x.silu(), className: 'SiLU' },
  relu: { fn: (x) => x.relu(), className: 'ReLU' },
  gelu: { fn: (x) => x.gelu('none'), className: 'GELUActivation' },
  gelu_pytorch_tanh: { fn: (x) => x.gelu('tanh'), className: 'GELUTanh' },
  gelu_new: { fn: (x) => x.gelu('tanh'), className: 'NewGELUActivation' },
};

export const SUPPORTED_ACTIVATIONS: readonly string[] = Object.keys(ACT2FN);

function entry(name: string): { fn: Activation; className: string } {
  const found = Object.prototype.hasOwnProperty.call(ACT2FN, name) ? ACT2FN[name] : undefined;
  if (!found) throw new ModuleError(`unsupported hidden_act "${name}" (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`);
  return found;
}

export function getActivation(name: string): Activation {
  return entry(name).fn;
}

/** The class of transformers' activation module for a hidden_act (SiLUActivation for silu). */
export function activationClassName(name: string): string {
  return entry(name).className;
}
