/** Shared by the model tests: read fixture folders (config.json + safetensors) into models and tensors. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../../src/engine/index.ts';
import { readSafetensors, type SafetensorsTensor } from '../../src/io/safetensors.ts';
import { createModelFromConfig, type CausalLM } from '../../src/models/index.ts';

export const ROOT = new URL('../fixtures/', import.meta.url).pathname;

export function toTensor(name: string, t: SafetensorsTensor): Tensor {
  switch (t.dtype) {
    case 'F32': return Tensor.fromData(t.data, t.shape, 'float32');
    case 'F64': return Tensor.fromData(t.data, t.shape, 'float64');
    case 'I64': return Tensor.fromData(t.data, t.shape, 'int64');
    case 'I32': return Tensor.fromData(t.data, t.shape, 'int32');
    case 'BOOL': return Tensor.fromData(t.data, t.shape, 'bool');
    default: throw new Error(`${name}: test helper does not convert ${t.dtype}`);
  }
}

export async function readTensors(path: string): Promise<Map<string, Tensor>> {
  const { tensors } = await readSafetensors(path);
  return new Map([...tensors].map(([k, v]) => [k, toTensor(k, v)]));
}

export function readConfig(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

/** config.json + model.safetensors → a model in eval mode. */
export async function loadFixtureModel(dir: string): Promise<CausalLM> {
  const model = createModelFromConfig(readConfig(dir));
  model.loadStateDict(await readTensors(join(dir, 'model.safetensors')));
  return model.eval();
}

/** Max |a − b| over the positions where keep is true (all when absent). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, keep?: (i: number) => boolean): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (keep && !keep(i)) continue;
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d;
  }
  return m;
}
