/**
 * The `bone` command end to end on a tiny model (the 2-layer Llama of the reference fixtures with
 * the ChatML test tokenizer): train with checkpoints, stop, resume, inspect, merge, generate from the
 * merged folder and from base + adapter, convert a legacy Bone adapter. The commands run in-process
 * (their exported functions, and main() for the flag path); one real process checks the exit code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../src/cli/args.ts';
import { runBench } from '../../src/cli/commands/bench.ts';
import { runConvert } from '../../src/cli/commands/convert.ts';
import { runGenerate } from '../../src/cli/commands/generate.ts';
import { runInspect, type AdapterInspection, type ModelInspection } from '../../src/cli/commands/inspect.ts';
import { runMerge } from '../../src/cli/commands/merge.ts';
import { runTrain, type TrainOptions } from '../../src/cli/commands/train.ts';
import { captureIO } from '../../src/cli/io.ts';
import { main } from '../../src/cli/main.ts';
import { readSafetensors } from '../../src/io/safetensors.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const FIXTURES = join(ROOT, 'test', 'fixtures');
const DATA = join(FIXTURES, 'cli', 'train.jsonl');
const EVAL = join(FIXTURES, 'cli', 'eval.jsonl');

let dir = '';
let model = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bone-cli-e2e-'));
  // A model folder with a tokenizer: the reference base model (vocab_size 512) + the ChatML test
  // tokenizer (ids 0..449, bos/eos ids 1/2 as the model's config).
  model = join(dir, 'model');
  await mkdir(model);
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors']) await copyFile(join(FIXTURES, 'reference', 'llama-miss-default', 'base', f), join(model, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) await copyFile(join(FIXTURES, 'tokenizers', 'chatml', f), join(model, f));
});
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** Settings shared by every run here; constant schedule so that a resumed run can equal an uninterrupted one. */
const common = (out: string): TrainOptions => ({
  model, data: DATA, eval: EVAL, out, r: 8, maxLength: 64, batchSize: 4, lr: 1e-2, schedule: 'constant', saveEvery: 2, quiet: true, io: captureIO(),
});

async function adapterTensors(folder: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(join(folder, 'adapter_model.safetensors'));
  return new Map([...tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

describe('bone train → resume → inspect → merge → generate → convert', () => {
  const run = (): string => join(dir, 'run');

  test('train through the command line: flags over a --config file; adapter, checkpoints and report in --out', async () => {
    const config = join(dir, 'run.json');
    // Paths in the config are relative to its folder; the flags override its r and max-steps.
    await writeFile(config, JSON.stringify({ model: 'model', data: DATA, eval: EVAL, out: 'run', r: 32, 'max-steps': 99, maxLength: 64, lr: 0.01, schedule: 'constant', 'batch-size': 4 }));
    const io = captureIO();
    const code = await main(['train', '--config', config, '--r', '8', '--max-steps', '4', '--save-every', '2', '--log-every', '2'], io);
    assert.equal(code, 0, io.err());
    assert.deepEqual((await readdir(run())).sort(), ['README.md', 'adapter_config.json', 'adapter_model.safetensors', 'checkpoint-2', 'checkpoint-4', 'report.html']);
    const adapterConfig = JSON.parse(await readFile(join(run(), 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(adapterConfig.peft_type, 'MISS');
    assert.equal(adapterConfig.r, 8);
    assert.deepEqual(adapterConfig.target_modules, ['q_proj', 'v_proj']); // PEFT's default for llama
    // no terminal: plain progress lines every 2 steps on stderr, the summary on stdout
    assert.match(io.err(), /^step 2\/4 \| loss [\d.]+ \| eval [\d.]+ \| [\d,]+ tok\/s \| ETA \d+s \| \d+s elapsed$/m);
    assert.match(io.err(), /^step 2: checkpoint written to .*checkpoint-2$/m);
    assert.match(io.err(), /1 example truncated to 64 tokens/);
    assert.match(io.out(), /^trained 4 steps in \d+s \([\d,]+ tokens\/s\)\nfinal loss [\d.]+, eval loss [\d.]+\nadapter: .*run \(miss, r 8, 1,536 trainable parameters\)\nreport: .*report\.html\n$/);

    const html = await readFile(join(run(), 'report.html'), 'utf8');
    assert.match(html, /<svg[^>]*>[\s\S]*<polyline class="train" points="[^"]+"[\s\S]*<polyline class="eval"[\s\S]*<\/svg>/);
    assert.doesNotMatch(html, /https?:\/\//);
    assert.match(html, /truncated<\/td><td>1 example cut to 64 tokens/);
    assert.match(html, /batch shapes \[batch, tokens\] × count<\/td><td>\[4, 64\] × 4/);
    assert.match(html, /trainable parameters<\/td><td>1,536 of 108,352/);
  });

  test('a second run into the same --out needs --resume', async () => {
    await assert.rejects(runTrain({ ...common(run()), maxSteps: 6 }), (e: unknown) => e instanceof UsageError && /already has a checkpoint from an earlier run .*checkpoint-4.*: add --resume/.test(e.message));
    await assert.rejects(runTrain({ ...common(run()), maxSteps: 6, resume: true, r: 16 }), /--resume: the checkpoint .*checkpoint-4 was trained with --r 8, found --r 16/);
  });

  test('--resume continues from the newest checkpoint; a stop (Ctrl-C) writes one; the result equals an uninterrupted run', async () => {
    const stop = new AbortController();
    const stopped = await runTrain({
      ...common(run()), maxSteps: 6, resume: true, signal: stop.signal,
      onEvent: (e) => { if (e.type === 'step' && e.step === 5) stop.abort(); },
    });
    assert.equal(stopped.reason, 'interrupted');
    assert.equal(stopped.startStep, 4);
    assert.match(stopped.resumedFrom!, /checkpoint-4$/);
    assert.equal(stopped.step, 5);
    assert.ok((await readdir(run())).includes('checkpoint-5'));

    const resumed = await runTrain({ ...common(run()), maxSteps: 6, resume: true });
    assert.equal(resumed.reason, 'completed');
    assert.equal(resumed.startStep, 5);
    assert.equal(resumed.step, 6);
    // the history (and so the report's curve) covers the whole run, not only this invocation
    assert.deepEqual(resumed.history.map((h) => h.step), [1, 2, 3, 4, 5, 6]);
    assert.ok(resumed.history.every((h) => h.evalLoss !== undefined));

    const straight = await runTrain({ ...common(join(dir, 'straight')), maxSteps: 6 });
    assert.deepEqual(straight.history.map((h) => h.loss), resumed.history.map((h) => h.loss));
    const a = await adapterTensors(run());
    const b = await adapterTensors(join(dir, 'straight'));
    assert.deepEqual([...a.keys()], [...b.keys()]);
    for (const [k, t] of a) assert.deepEqual(t, b.get(k), k);
    // and training moved the adapter away from its zero init
    assert.ok([...a.values()].some((t) => t.some((v) => v !== 0)));
  });

  test('--gradient-checkpointing and --recompute-attention train the same adapter as the default, within float32 rounding', async () => {
    const straight = join(dir, 'straight');
    await runTrain({ ...common(join(dir, 'memory-saving')), maxSteps: 6, gradientCheckpointing: true, recomputeAttention: true });
    const a = await adapterTensors(straight);
    const b = await adapterTensors(join(dir, 'memory-saving'));
    for (const [k, t] of a) {
      let worst = 0;
      for (let i = 0; i < t.length; i++) worst = Math.max(worst, Math.abs(t[i]! - b.get(k)![i]!));
      assert.ok(worst < 1e-5, `${k}: max |difference| ${worst}`);
    }
  });

  test('--packing packs the examples into full rows and trains; a resumed run must keep --packing', async () => {
    const out = join(dir, 'packed');
    const io = captureIO();
    const packed = await runTrain({ ...common(out), packing: true, maxSteps: 2, quiet: false, logEvery: 0, io });
    const plain = await runTrain({ ...common(join(dir, 'unpacked')), maxSteps: 2 });
    assert.equal(packed.reason, 'completed');
    assert.ok(Number.isFinite(packed.finalLoss));
    // Fewer, fuller rows than one example per row, none longer than --max-length.
    assert.ok(packed.data.batchesPerEpoch < plain.data.batchesPerEpoch, `${packed.data.batchesPerEpoch} packed batches vs ${plain.data.batchesPerEpoch}`);
    assert.ok(packed.data.batchShapes.every((b) => b.shape[1] <= 64));
    assert.match(io.err(), /training examples packed into \d+ rows of up to 64 tokens/);
    await assert.rejects(runTrain({ ...common(out), maxSteps: 4, resume: true }), /--resume: the checkpoint .* was trained with --packing true, found --packing \(default\)/);
  });

  test('a step that will not fit stops before training with the estimate and the memory available; --skip-memory-check runs it anyway', async () => {
    const out = join(dir, 'too-big');
    const host = { totalBytes: 16 * 2 ** 30, availableBytes: 0, limitBytes: 2 ** 30, processBytes: 0 };
    await assert.rejects(runTrain({ ...common(out), maxSteps: 1, hostMemory: host }), (e: unknown) => e instanceof UsageError
      && /a training step on a batch of 4 × 64 tokens needs about [\d.]+ (KiB|MiB) \(estimated from the step's graph before it runs\), but this process can have about 0 B/.test(e.message)
      && /under a cgroup limit of 1\.00 GiB/.test(e.message) && /--skip-memory-check runs it anyway/.test(e.message));
    assert.ok(!existsSync(out) || (await readdir(out)).length === 0, 'nothing trained or written');
    const skipped = await runTrain({ ...common(join(dir, 'skipped')), maxSteps: 1, hostMemory: host, skipMemoryCheck: true });
    assert.equal(skipped.reason, 'completed');
    const io = captureIO();
    await runTrain({ ...common(join(dir, 'checked')), maxSteps: 1, quiet: false, logEvery: 0, io });
    assert.match(io.err(), /^memory: a step on 4 × 64 tokens needs about [\d.]+ MiB \(estimated from its graph\) of the [\d.]+ GiB this process can have$/m);
  });

  test('inspect a model folder and an adapter folder', async () => {
    const io = captureIO();
    const m = await runInspect({ path: model, io }) as ModelInspection;
    assert.equal(m.kind, 'model');
    assert.equal(m.architecture, 'LlamaForCausalLM');
    assert.equal(m.parameters, 106816);
    assert.equal(m.tensors.length, 20);
    assert.deepEqual(m.tensors.find((t) => t.name === 'model.embed_tokens.weight'), { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [512, 64], parameters: 32768, file: 'model.safetensors' });
    assert.deepEqual(m.defaultTargets, ['q_proj', 'v_proj']);
    assert.match(io.out(), /architecture: +LlamaForCausalLM \(model_type llama\)/);
    assert.match(io.out(), /model\.layers\.0\.self_attn\.q_proj\.weight +F32 +\[64, 64\] +4,096/);

    const io2 = captureIO();
    const a = await runInspect({ path: run(), io: io2 }) as AdapterInspection;
    assert.deepEqual(
      { peftType: a.peftType, peftVersion: a.peftVersion, r: a.r, mode: a.mode, targets: a.targets, trainable: a.trainableParameters, layers: a.layers },
      { peftType: 'MISS', peftVersion: '0.21.0', r: 8, mode: 'default', targets: ['q_proj', 'v_proj'], trainable: 1536, layers: 4 },
    );
    assert.match(io2.out(), /trainable parameters: +1,536/);
    const checkpoint = await runInspect({ path: join(run(), 'checkpoint-6'), json: true, summary: true, io: captureIO() }) as AdapterInspection;
    assert.equal(checkpoint.checkpointStep, 6);
  });

  test('merge, then generate: the merged folder and base + adapter give the same tokens', async () => {
    const merged = join(dir, 'merged');
    const result = await runMerge({ model, adapter: run(), out: merged, io: captureIO() });
    assert.equal(result.mergedLayers, 4);
    assert.deepEqual((await readdir(merged)).sort(), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const inspected = await runInspect({ path: merged, io: captureIO() }) as ModelInspection;
    assert.equal(inspected.parameters, 106816);

    const prompt = 'Q: What is the capital of France?\nA:';
    const io = captureIO();
    const fromMerged = await runGenerate({ model: merged, prompt, maxNewTokens: 8, io });
    const fromAdapter = await runGenerate({ model, adapter: run(), prompt, maxNewTokens: 8, io: captureIO() });
    assert.ok(fromMerged.tokens.length > 0);
    assert.deepEqual(fromMerged.tokens, fromAdapter.tokens);
    assert.equal(fromMerged.text, fromAdapter.text);
    assert.equal(io.out(), `${fromMerged.text}\n`);
    // chat mode renders the template (the prompt starts with <|im_start|>, id 1) and sampling is seeded
    const chat1 = await runGenerate({ model: merged, prompt: 'hi', chat: true, temperature: 0.9, topK: 20, seed: 3, maxNewTokens: 4, io: captureIO() });
    const chat2 = await runGenerate({ model: merged, prompt: 'hi', chat: true, temperature: 0.9, topK: 20, seed: 3, maxNewTokens: 4, io: captureIO() });
    assert.equal(chat1.promptTokens[0], 1);
    assert.deepEqual(chat1.tokens, chat2.tokens);
  });

  test('convert a legacy Bone adapter to MiSS', async () => {
    const out = join(dir, 'converted');
    const io = captureIO();
    const result = await runConvert({ adapter: join(FIXTURES, 'reference', 'llama-bone-legacy', 'adapter'), out, io });
    assert.equal(result.tensors, 4);
    assert.match(io.out(), /converted 4 tensors: .* \(BONE\) → .* \(MISS\)/);
    const a = await runInspect({ path: out, io: captureIO() }) as AdapterInspection;
    assert.equal(a.peftType, 'MISS');
    assert.equal(a.r, 8);
  });

  test('bench measures tokens/s on a model folder', async () => {
    const io = captureIO();
    const result = await runBench({ model, r: 8, batchSize: 2, seqLen: 32, steps: 2, warmup: 1, io });
    assert.equal(result.stepSeconds.length, 2);
    assert.equal(result.tokensPerStep, 64);
    assert.ok(result.tokensPerSecond > 0);
    assert.match(io.out(), /throughput: [\d,]+ tokens\/s/);
  });
});

test('the real `bone` process exits 2 on a usage error, with the message on stderr', () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), 'train', '--r', 'abc'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(child.status, 2, child.stderr);
  assert.equal(child.stdout, '');
  assert.equal(child.stderr, "bone train: --r expects an integer ≥ 1, found \"abc\"\nRun 'bone train --help' for the options.\n");
});
