/**
 * Writes bone-peft's logits for a base model + adapter on fixed input ids, for
 * scripts/check_peft_interop.py to compare against Python PEFT.
 *
 * Usage: node --import tsx scripts/adapter-logits.ts BASE_DIR ADAPTER_DIR OUT.safetensors
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import '../src/node/install.ts';
import { Generator, Tensor } from '../src/engine/index.ts';
import { readSafetensors, writeSafetensors } from '../src/io/index.ts';
import { createModelFromConfig } from '../src/models/index.ts';
import { PeftModel } from '../src/peft/index.ts';

const [base, adapter, out] = process.argv.slice(2);
if (!base || !adapter || !out) {
  console.error('usage: node --import tsx scripts/adapter-logits.ts BASE_DIR ADAPTER_DIR OUT.safetensors');
  process.exit(2);
}
const config = JSON.parse(await readFile(join(base, 'config.json'), 'utf8')) as Record<string, unknown>;
const model = createModelFromConfig(config);
const { tensors } = await readSafetensors(join(base, 'model.safetensors'));
model.loadStateDict(new Map([...tensors].map(([k, t]) => {
  if (t.dtype !== 'F32') throw new Error(`${k}: this script reads float32 checkpoints, found ${t.dtype}`);
  return [k, Tensor.fromData(t.data, t.shape)];
})));
model.eval();
const peft = await PeftModel.fromPretrained(model, adapter);
const g = new Generator(1234);
const vocab = Number(config.vocab_size);
const ids = BigInt64Array.from({ length: 2 * 16 }, () => BigInt(g.nextUint32() % vocab));
const { logits } = peft.forward({ inputIds: Tensor.fromData(ids, [2, 16]) });
await writeSafetensors(out, {
  input_ids: { dtype: 'I64', shape: [2, 16], data: ids },
  logits: { dtype: 'F32', shape: [...logits.shape], data: (await logits.data()) as Float32Array },
});
console.log(`wrote ${out}: logits [${logits.shape.join(', ')}]`);
