/** Debugging helpers. (In Node, BONE_DUMP_ONNX=dir writes every compiled graph: src/node/graph-dump.ts.) */
import { EngineError } from './errors.ts';
import { realize } from './realize.ts';
import type { Tensor } from './tensor.ts';

/** How many NaN and ±Infinity values an array holds, and the flat index of the first; null when all are finite. */
export function nonFinite(values: ArrayLike<number>): { nan: number; inf: number; first: number } | null {
  let nan = 0, inf = 0, first = -1;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    // x - x is 0 for every finite x and NaN for NaN and ±Infinity: one comparison on the common path.
    if (x - x === 0) continue;
    if (Number.isNaN(x)) nan++; else inf++;
    if (first < 0) first = i;
  }
  return nan || inf ? { nan, inf, first } : null;
}

/** "1 NaN, 0 Inf (first at flat index 3)": what nonFinite found, for messages. */
export function describeNonFinite(found: { nan: number; inf: number; first: number }): string {
  return `${found.nan} NaN, ${found.inf} Inf (first at flat index ${found.first})`;
}

/**
 * Realise the tensors; one line per tensor that holds NaN or ±Infinity, naming it with its dtype
 * and shape (`label` may say more, e.g. the op that made it), empty when all are finite.
 */
export async function nonFiniteTensors(
  tensors: Record<string, Tensor> | ReadonlyMap<string, Tensor>, label = (t: Tensor): string => `${t.dtype}[${t.shape.join(', ')}]`,
): Promise<string[]> {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  await realize(entries.map(([, t]) => t));
  const bad: string[] = [];
  for (const [name, t] of entries) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') continue;
    const found = nonFinite(await t.floats());
    if (found) bad.push(`${name} ${label(t)}: ${describeNonFinite(found)}`);
  }
  return bad;
}

/** Realise the tensors and throw, naming each one, if any holds NaN or ±Infinity. */
export async function checkFinite(tensors: Record<string, Tensor>): Promise<void> {
  // With the op that made each tensor: this is a debugging helper.
  const bad = await nonFiniteTensors(tensors, (t) => t.describe());
  if (bad.length) throw new EngineError(`non-finite values found:\n  ${bad.join('\n  ')}`);
}
