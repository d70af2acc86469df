/**
 * The bone-peft half of scripts/check_transformers_load.py: loads a model (folder or cached Hub repo id)
 * with loadModel, saves it with savePretrained, and writes the logits of the saved model on fixed
 * input ids for the Python half to compare with transformers.
 *
 * Usage: node --import tsx scripts/check_transformers_load.ts SOURCE OUT_DIR LOGITS.safetensors [MAX_SHARD_SIZE]
 */
import '../src/node/install.ts';
import { Generator, Tensor } from '../src/engine/index.ts';
import { loadModel, savePretrained, writeSafetensors } from '../src/io/index.ts';

const [source, outDir, logitsPath, maxShardSize] = process.argv.slice(2);
if (!source || !outDir || !logitsPath) {
  console.error('usage: node --import tsx scripts/check_transformers_load.ts SOURCE OUT_DIR LOGITS.safetensors [MAX_SHARD_SIZE]');
  process.exit(2);
}
await savePretrained(await loadModel(source), outDir, maxShardSize ? { maxShardSize } : {});
// Logits of the folder as written, so the check covers what transformers will read.
const model = await loadModel(outDir);
const generator = new Generator(1234);
const [batch, seq] = [2, 12];
const ids = BigInt64Array.from({ length: batch * seq }, () => BigInt(generator.nextUint32() % model.config.vocab_size));
const { logits } = model.forward({ inputIds: Tensor.fromData(ids, [batch, seq]) });
await writeSafetensors(logitsPath, {
  input_ids: { dtype: 'I64', shape: [batch, seq], data: ids },
  logits: { dtype: 'F32', shape: [...logits.shape], data: (await logits.data()) as Float32Array },
});
console.log(`${source} → ${outDir} (${model.config.model_type}), logits [${logits.shape.join(', ')}] → ${logitsPath}`);
