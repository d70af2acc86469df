/** Debugging helpers. (In Node, BONE_DUMP_ONNX=dir writes every compiled graph: src/node/graph-dump.ts.) */
import { EngineError } from './errors.ts';
import { realize } from './realize.ts';
import type { Tensor } from './tensor.ts';

/** Realise the tensors and throw, naming each one, if any holds NaN or ±Infinity. */
export async function checkFinite(tensors: Record<string, Tensor>): Promise<void> {
  await realize(Object.values(tensors));
  const bad: string[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') continue;
    const v = await t.floats();
    let nan = 0, inf = 0, first = -1;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (Number.isNaN(x)) nan++;
      else if (!Number.isFinite(x)) inf++;
      else continue;
      if (first < 0) first = i;
    }
    if (nan || inf) bad.push(`${name} ${t.describe()}: ${nan} NaN, ${inf} Inf (first at flat index ${first})`);
  }
  if (bad.length) throw new EngineError(`non-finite values found:\n  ${bad.join('\n  ')}`);
}
