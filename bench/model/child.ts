/**
 * One measurement in a fresh process, so that load time and peak RSS are the loader's alone (no
 * earlier model, graph or allocator state). Prints one line `RESULT {json}` for bench/model.bench.ts.
 *
 *   node --import tsx bench/model/child.ts load FOLDER
 *   node --import tsx bench/model/child.ts run FOLDER FORWARD_ITERS GENERATE_ITERS
 */
import '../../src/node/install.ts';
import { Tensor } from '../../src/engine/index.ts';
import { loadModel } from '../../src/io/model-folder.ts';
import { generate } from '../../src/models/index.ts';
import { randomInts } from '../util.ts';
import { FORWARD_SHAPE, GENERATION } from './workload.ts';

const [mode, folder, forwardIters = '5', generateIters = '3'] = process.argv.slice(2);
if ((mode !== 'load' && mode !== 'run') || !folder) {
  console.error('usage: node --import tsx bench/model/child.ts load|run FOLDER [FORWARD_ITERS GENERATE_ITERS]');
  process.exit(2);
}
const mib = (kib: number): number => kib / 1024;
const report = (result: Record<string, unknown>): void => { process.stdout.write(`RESULT ${JSON.stringify(result)}\n`); };

const rssBeforeMiB = process.memoryUsage().rss / 2 ** 20;
const t0 = performance.now();
const model = await loadModel(folder);
const loadMs = performance.now() - t0;
const peakAfterLoadMiB = mib(process.resourceUsage().maxRSS);

if (mode === 'load') {
  report({ loadMs, rssBeforeMiB, peakRssMiB: peakAfterLoadMiB, params: model.numParameters() });
} else {
  const vocab = model.config.vocab_size;
  const [batch, seq] = FORWARD_SHAPE;
  const inputIds = Tensor.fromData(randomInts(batch * seq, vocab, 7), [batch, seq], 'int64');
  const forwardMs: number[] = [];
  // The first run compiles the graph (ONNX emission + session creation); it is reported apart.
  for (let i = 0; i <= Number(forwardIters); i++) {
    const t = performance.now();
    const { logits } = model.forward({ inputIds });
    await logits.data();
    forwardMs.push(performance.now() - t);
  }
  const prompt = [Array.from(randomInts(GENERATION.prompt, vocab, 11), Number)];
  const generateMs: number[] = [];
  let tokens: number[] = [];
  for (let i = 0; i <= Number(generateIters); i++) {
    const t = performance.now();
    const out = await generate(model, prompt, { maxNewTokens: GENERATION.newTokens, eosTokenId: null });
    generateMs.push(performance.now() - t);
    tokens = out.newTokens[0]!;
  }
  report({
    loadMs, peakRssMiB: mib(process.resourceUsage().maxRSS),
    forwardFirstMs: forwardMs[0], forwardMs: forwardMs.slice(1),
    generateFirstMs: generateMs[0], generateMs: generateMs.slice(1), newTokens: tokens.length,
  });
}
