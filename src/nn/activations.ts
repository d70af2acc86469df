/** transformers' ACT2FN for the activations decoder MLPs use, by their config.json names. */
import type { Tensor } from '../engine/index.ts';
import { ModuleError } from './errors.ts';

export type Activation = (x: Tensor) => Tensor;

const ACT2FN: Readonly<Record<string, Activation>> = {
  silu: (x) => x.silu(),
  swish: (x) => x.silu(),
  relu: (x) => x.relu(),
  gelu: (x) => x.gelu('none'),
  gelu_pytorch_tanh: (x) => x.gelu('tanh'),
  gelu_new: (x) => x.gelu('tanh'),
};

export const SUPPORTED_ACTIVATIONS: readonly string[] = Object.keys(ACT2FN);

export function getActivation(name: string): Activation {
  const fn = Object.prototype.hasOwnProperty.call(ACT2FN, name) ? ACT2FN[name] : undefined;
  if (!fn) throw new ModuleError(`unsupported hidden_act "${name}" (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`);
  return fn;
}
