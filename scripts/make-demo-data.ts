/**
 * Writes the demo's data files, deterministically from a seed:
 *
 *   demo/data/train.jsonl        the fine-tuning set: {"prompt", "completion"} question/answer pairs
 *   demo/data/eval.jsonl         held-out pairs (no prompt of it is in train.jsonl), with their skill
 *   demo/data/pretrain-sample.txt the first documents of the pretraining text, to look at (the
 *                                pretraining script generates the full text on the fly, from the same code)
 *   demo/model/tokenizer.json, tokenizer_config.json   the character tokenizer
 *
 *   node --import tsx scripts/make-demo-data.ts [--seed 7] [--train 3000] [--eval 150]
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import '../src/node/install.ts';
import { Generator } from '../src/engine/index.ts';
import { loadTokenizer } from '../src/io/index.ts';
import { writeTextAtomically } from '../src/node/index.ts';
import { writeCharTokenizer } from '../demo/char-tokenizer.ts';
import { DEMO_MODEL_DIR, MAX_POSITIONS } from '../demo/model-files.ts';
import { EOS_TOKEN, makeTaskSplits, pretrainingDocument, type TaskExample } from '../demo/tiny-world.ts';

const DATA_DIR = fileURLToPath(new URL('../demo/data/', import.meta.url));

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    train: { type: 'string', default: '3000' },
    eval: { type: 'string', default: '150' },
  },
});

function jsonl(examples: readonly TaskExample[], withSkill: boolean): string {
  return examples.map((e) => JSON.stringify(withSkill ? { prompt: e.prompt, completion: e.completion, skill: e.skill } : { prompt: e.prompt, completion: e.completion })).join('\n') + '\n';
}

async function main(): Promise<void> {
  const seed = Number(args.seed);
  const { train, eval: evalSet } = makeTaskSplits(seed, Number(args.train), Number(args.eval));
  await mkdir(DATA_DIR, { recursive: true });
  await writeTextAtomically(join(DATA_DIR, 'train.jsonl'), jsonl(train, false));
  await writeTextAtomically(join(DATA_DIR, 'eval.jsonl'), jsonl(evalSet, true));

  const generator = new Generator(seed);
  const sample = Array.from({ length: 40 }, () => pretrainingDocument(generator).replace(EOS_TOKEN, `\n${EOS_TOKEN}\n`)).join('');
  await writeTextAtomically(join(DATA_DIR, 'pretrain-sample.txt'), sample);

  await writeCharTokenizer(DEMO_MODEL_DIR, MAX_POSITIONS);
  // Check that the library's own loader reads the tokenizer and that every example round-trips.
  const tokenizer = await loadTokenizer(DEMO_MODEL_DIR);
  for (const e of [...train, ...evalSet]) {
    const text = e.prompt + e.completion + EOS_TOKEN;
    const decoded = tokenizer.decode(tokenizer.encode(text));
    if (decoded !== text) throw new Error(`the tokenizer does not round-trip ${JSON.stringify(text)} (got ${JSON.stringify(decoded)})`);
  }
  console.log(`wrote ${train.length} training and ${evalSet.length} held-out examples to ${DATA_DIR}, and the tokenizer (${tokenizer.vocabSize} tokens) to ${DEMO_MODEL_DIR}`);
}

await main();
