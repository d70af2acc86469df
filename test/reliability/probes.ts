/**
 * The probe catalogue of issue 11: bad files, bad data and bad arguments, each run through the
 * `bone` command (main() in-process) with the exit code and the message fragments it must give.
 * One row per probe: what to put in the probe's folder (`setup`, built from the makers below), the
 * command line (`{dir}` is the probe's folder; `{model}`, `{adapter}`, `{demo}`, `{data}` the shared
 * fixtures), and what must (and must not) be said. The next finding is one more row.
 *
 * `item` is the item number; null marks probes that were handled well before the issue,
 * kept so that they stay so.
 */
import { copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../../src/io/safetensors.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const ROOT = new URL('../../', import.meta.url).pathname;

/** The shared fixtures: a tiny Llama (hidden 64, 2 layers, vocab 512, tied embeddings) with the ChatML test tokenizer, its MiSS adapter (r 8 on q_proj, v_proj), the demo model's folder (a character tokenizer), a small prompt-completion file. */
export interface Fixtures { model: string; adapter: string; demo: string; data: string }

export const FIXTURE_SOURCES = {
  modelFiles: [
    ...['config.json', 'generation_config.json', 'model.safetensors'].map((f) => join(FIXTURES, 'reference', 'llama-miss-default', 'base', f)),
    ...['tokenizer.json', 'tokenizer_config.json'].map((f) => join(FIXTURES, 'tokenizers', 'chatml', f)),
  ],
  adapter: join(FIXTURES, 'reference', 'llama-miss-default', 'adapter'),
  demo: join(ROOT, 'demo', 'model'),
  data: join(FIXTURES, 'cli', 'train.jsonl'),
};

/** What a setup step gets: the probe's own folder and the fixtures. */
export interface ProbeContext extends Fixtures { dir: string }
export type Setup = (p: ProbeContext) => Promise<void>;

/** Text that must appear: a substring, or a RegExp. */
export type Fragment = string | RegExp;

export interface Probe {
  /** What is probed, as a user would do it. */
  name: string;
  /** The item of issue 11 it comes from; null: handled well before. */
  item: number | null;
  setup?: Setup;
  argv: readonly string[];
  exit: number;
  stderr?: readonly Fragment[];
  stdout?: readonly Fragment[];
  /** Text that must not appear on either stream. */
  absent?: readonly Fragment[];
  /** Files the command must have written (path with placeholders → fragments of their text). */
  files?: Readonly<Record<string, readonly Fragment[]>>;
}

// ---- makers ----------------------------------------------------------------------------------------

const Q0 = 'base_model.model.model.layers.0.self_attn.q_proj.miss_block';

/** Several setup steps in order. */
const all = (...steps: Setup[]): Setup => async (p) => { for (const s of steps) await s(p); };

/** A file of the probe's folder, with literal contents. */
export const file = (path: string, contents: string | Uint8Array): Setup => async (p) => {
  await mkdir(dirname(join(p.dir, path)), { recursive: true });
  await writeFile(join(p.dir, path), contents);
};

/** JSONL lines from objects. */
export const jsonl = (path: string, lines: readonly unknown[]): Setup => file(path, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);

/** A copy of the tiny model folder, its config.json edited. */
export const model = (path: string, edit: (config: Record<string, unknown>) => void = () => undefined): Setup => async (p) => {
  const to = join(p.dir, path);
  await cp(p.model, to, { recursive: true });
  const config = JSON.parse(await readFile(join(to, 'config.json'), 'utf8')) as Record<string, unknown>;
  edit(config);
  await writeFile(join(to, 'config.json'), JSON.stringify(config, null, 2));
};

/** A copy of a fixture folder (default: the tiny model's). */
export const copyOf = (path: string, from: keyof Fixtures = 'model'): Setup => async (p) => { await cp(p[from], join(p.dir, path), { recursive: true }); };

type Tensors = Map<string, SafetensorsTensor>;

/** A copy of the MiSS adapter, its config and tensors edited. */
export const adapter = (path: string, edit: { config?: (c: Record<string, unknown>) => void; tensors?: (t: Tensors) => void } = {}): Setup => async (p) => {
  const to = join(p.dir, path);
  await mkdir(to, { recursive: true });
  const config = JSON.parse(await readFile(join(p.adapter, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  edit.config?.(config);
  await writeFile(join(to, 'adapter_config.json'), JSON.stringify(config, null, 2));
  const { tensors } = await readSafetensors(join(p.adapter, 'adapter_model.safetensors'));
  edit.tensors?.(tensors);
  await writeSafetensors(join(to, 'adapter_model.safetensors'), tensors, { format: 'pt' });
};

/** Set one element of a tensor (NaN, Infinity, ...). */
const poison = (key: string, value: number) => (t: Tensors): void => {
  const entry = t.get(key)!;
  const data = Float32Array.from(entry.data as Float32Array);
  data[3] = value;
  t.set(key, { dtype: 'F32', shape: entry.shape, data });
};

/** Rename every key's `from` to `to` (another method's prefix). */
const renameKeys = (from: string, to: string) => (t: Tensors): void => {
  for (const [k, v] of [...t]) { t.delete(k); t.set(k.replace(from, to), v); }
};

/** A float32 tensor of a shape, filled with a small pattern. */
const filled = (shape: number[], scale = 0.01): SafetensorsTensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'F32', shape, data: Float32Array.from({ length: n }, (_, i) => scale * Math.sin(i)) };
};

/** A model weight with one non-finite value: the safetensors file of a model copy rewritten. */
const poisonModel = (path: string, key: string, value: number): Setup => async (p) => {
  const file = join(p.dir, path, 'model.safetensors');
  const { tensors } = await readSafetensors(file);
  poison(key, value)(tensors);
  await writeSafetensors(file, tensors, { format: 'pt' });
};

/** A training checkpoint folder in `out` (as bone train writes it) whose adapter is `adapterEdit` of the fixture's. */
const checkpoint = (out: string, step: number, settings: Record<string, unknown>, tensors?: (t: Tensors) => void): Setup => all(
  adapter(`${out}/checkpoint-${step}`, { tensors }),
  file(`${out}/checkpoint-${step}/trainer_state.json`, JSON.stringify({ step, epoch: 0, batchIndex: step, rng: { state: '1', spare: null }, history: [], settings })),
  async (p) => { await writeSafetensors(join(p.dir, out, `checkpoint-${step}`, 'optimizer.safetensors'), new Map(), { format: 'bone-peft', step: String(step) }); },
);

const generate = (model: string, adapterDir: string | null, ...more: string[]): string[] =>
  ['generate', '--model', model, ...(adapterDir ? ['--adapter', adapterDir] : []), '--prompt', 'Q: hi', '--max-new-tokens', '2', ...more];
const merge = (adapterDir: string, ...more: string[]): string[] => ['merge', '--model', '{model}', '--adapter', adapterDir, '--out', '{dir}/merged', ...more];
const train = (...more: string[]): string[] => ['train', '--model', '{model}', '--data', '{data}', '--out', '{dir}/out', '--r', '8', '--batch-size', '4', '--max-length', '64', '--quiet', ...more];

// ---- the catalogue ---------------------------------------------------------------------------------

export const PROBES: readonly Probe[] = [
  // 7: non-finite values
  { name: 'generate with an adapter that holds a NaN', item: 7, setup: adapter('a', { tensors: poison(Q0, NaN) }), argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['the adapter holds non-finite values', `${Q0} float32[8, 64]: 1 NaN, 0 Inf (first at flat index 3)`, 'lower learning rate'] },
  { name: 'merge an adapter that holds +Infinity', item: 7, setup: adapter('a', { tensors: poison(Q0, Infinity) }), argv: merge('{dir}/a'), exit: 1,
    stderr: ['the adapter holds non-finite values', `${Q0} float32[8, 64]: 0 NaN, 1 Inf`], absent: ['wrote the merged model'] },
  { name: 'generate with a base model whose weight holds a NaN', item: 7, setup: all(copyOf('m'), poisonModel('m', 'model.layers.1.mlp.down_proj.weight', NaN)), argv: generate('{dir}/m', null), exit: 1,
    stderr: ['model.safetensors: tensor "model.layers.1.mlp.down_proj.weight" [64, 128] holds 1 NaN, 0 Inf', 'the checkpoint is broken'] },
  { name: 'train --resume from a checkpoint whose adapter holds a NaN', item: 7, setup: checkpoint('out', 2, {}, poison(Q0, NaN)), argv: train('--max-steps', '3', '--resume'), exit: 1,
    stderr: ['checkpoint-2/adapter_model.safetensors: the adapter holds non-finite values', Q0] },

  // 8: divergence
  { name: 'train --lr 1e9', item: 8, argv: train('--lr', '1e9', '--max-steps', '3'), exit: 1,
    stderr: ['step 1: the run diverged: the update would make base_model.model.model.layers.0.self_attn.q_proj.miss_block.default reach |value| 1.00e+9, above 1000', 'the adapter was not updated', 'Lower the learning rate (1000000000'],
    absent: ['adapter: '] },
  { name: 'train --lr 1e30', item: 8, argv: train('--lr', '1e30', '--max-steps', '3'), exit: 1, stderr: ['step 1: the run diverged', '|value| 1.00e+30'] },

  // 9: tensors that do not match the layers
  { name: 'merge Bone-named tensors under peft_type MISS', item: 9, setup: adapter('a', { tensors: renameKeys('.miss_block', '.bone_block') }), argv: merge('{dir}/a'), exit: 1,
    stderr: ['the tensors do not match the MiSS adapter layers', '4 adapter tensor(s) are not in the file', '4 tensor(s) of the file fit no adapter layer', 'named as a Bone adapter\'s (bone_…)', 'pass --allow-key-mismatch'],
    absent: ['wrote the merged model'] },
  { name: 'merge an adapter with 1 of 4 tensors missing', item: 9, setup: adapter('a', { tensors: (t) => { t.delete(Q0); } }), argv: merge('{dir}/a'), exit: 1,
    stderr: [`1 adapter tensor(s) are not in the file: ${Q0}`, 'The file may be incomplete'] },
  { name: 'merge an adapter with 1 of 4 tensors missing, --allow-key-mismatch', item: 9, setup: adapter('a', { tensors: (t) => { t.delete(Q0); } }), argv: merge('{dir}/a', '--allow-key-mismatch'), exit: 0,
    stderr: ['warning: Found missing adapter keys', `${Q0.replace('miss_block', 'miss_block.default')}`], stdout: ['wrote the merged model to'] },
  { name: 'export an adapter with 1 of 4 tensors missing', item: 9, setup: adapter('a', { tensors: (t) => { t.delete(Q0); } }),
    argv: ['export', '--format', 'gguf', '--model', '{model}', '--adapter', '{dir}/a', '--out', '{dir}/m.gguf'], exit: 1, stderr: ['1 adapter tensor(s) are not in the file', 'pass --allow-key-mismatch'] },
  { name: 'generate with peft_type LORA over MiSS tensors', item: 9, setup: adapter('a', { config: (c) => { c.peft_type = 'LORA'; delete c.init_weights; delete c.mini_r; delete c.miss_dropout; } }), argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['the tensors do not match the LoRA adapter layers', '8 adapter tensor(s) are not in the file', 'named as a MiSS adapter\'s (miss_…)'] },

  // 10: data the tokenizer or the reader would lose
  { name: 'train on a JSONL line with bytes that are not UTF-8', item: 10, setup: file('d.jsonl', Buffer.concat([Buffer.from('{"text": "apple"}\n{"text": "ap'), Buffer.from([0xff, 0xfe]), Buffer.from('le"}\n')])),
    argv: ['train', '--model', '{model}', '--data', '{dir}/d.jsonl', '--out', '{dir}/out'], exit: 1,
    stderr: ['d.jsonl:2: the line is not valid UTF-8: byte 0xff at byte 13 of the line (after "{\\"text\\": \\"ap")', 'save the file as UTF-8'] },
  { name: 'train with a character tokenizer that has no ü', item: 10, setup: jsonl('d.jsonl', Array.from({ length: 8 }, (_, i) => ({ text: i === 2 ? 'grün über alles' : `line ${i} plain text` }))),
    argv: ['train', '--model', '{model}', '--tokenizer', '{demo}', '--data', '{dir}/d.jsonl', '--out', '{dir}/out', '--r', '8', '--batch-size', '4', '--max-steps', '1', '--quiet'], exit: 0,
    stderr: ['d.jsonl: 2 character(s) of the data (1 distinct) cannot be represented by the tokenizer and are dropped from the token ids', '"ü" (U+00FC) ×2 from line 3'] },

  // 11: another base than the recorded one
  { name: 'merge onto a base of other sizes than the recorded one', item: 11,
    setup: all(file('recorded/config.json', JSON.stringify({ model_type: 'llama', hidden_size: 64, intermediate_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, vocab_size: 1024, tie_word_embeddings: true })),
      async (p) => adapter('a', { config: (c) => { c.base_model_name_or_path = join(p.dir, 'recorded'); } })(p)),
    argv: merge('{dir}/a'), exit: 0, stderr: ['is not the base model this adapter was trained on', 'num_hidden_layers 4 → 2', 'vocab_size 1024 → 512'], stdout: ['wrote the merged model'] },
  { name: 'merge when the recorded base is nowhere to be found', item: 11, setup: adapter('a', { config: (c) => { c.base_model_name_or_path = 'nobody/no-such-model'; } }), argv: merge('{dir}/a'), exit: 0,
    stderr: ['cannot check that --model', 'its base_model_name_or_path "nobody/no-such-model" is neither a folder here nor a repository in the Hugging Face cache'] },

  { name: 'merge onto the recorded base itself says nothing about it', item: 11, setup: async (p) => adapter('a', { config: (c) => { c.base_model_name_or_path = p.model; } })(p),
    argv: merge('{dir}/a'), exit: 0, absent: ['cannot check', 'is not the base model'] },

  // 12: errors that named the wrong thing
  { name: 'a config.json without hidden_size', item: 12, setup: model('m', (c) => { delete c.hidden_size; }), argv: generate('{dir}/m', null), exit: 1,
    stderr: ['likely cause:', '"hidden_size" is missing, so llama\'s default 4096 was used, but the checkpoint\'s model.embed_tokens.weight [512, 64] has hidden_size 64: add "hidden_size": 64'] },
  { name: 'num_attention_heads 5 with hidden_size 64 and no head_dim', item: 12, setup: model('m', (c) => { c.num_attention_heads = 5; delete c.num_key_value_heads; delete c.head_dim; }), argv: generate('{dir}/m', null), exit: 1,
    stderr: ['"num_attention_heads" 5 does not divide "hidden_size" 64, and there is no "head_dim", so head_dim is 64 // 5 = 12'] },
  { name: 'a tokenizer with an empty vocabulary', item: 12, setup: all(copyOf('m'), async (p) => {
    const path = join(p.dir, 'm', 'tokenizer.json');
    const json = JSON.parse(await readFile(path, 'utf8')) as { model: { vocab: object; merges: unknown[] } };
    json.model.vocab = {};
    json.model.merges = [];
    await writeFile(path, JSON.stringify(json));
  }), argv: ['train', '--model', '{dir}/m', '--data', '{data}', '--out', '{dir}/out'], exit: 1, stderr: ['tokenizer.json: "model.vocab" is empty: this tokenizer can encode no text'], absent: ['token(s) long'] },
  { name: '"r": "16" in adapter_config.json', item: 12, setup: adapter('a', { config: (c) => { c.r = '16'; } }), argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['adapter_config.json: `r` should be a positive integer value but the value passed is "16" (a string)'] },

  // 13: PEFT's pickle format
  { name: 'generate with a PEFT .bin adapter (safe_serialization=False)', item: 13,
    setup: all(async (p) => { await mkdir(join(p.dir, 'a'), { recursive: true }); await copyFile(join(p.adapter, 'adapter_config.json'), join(p.dir, 'a', 'adapter_config.json')); }, file('a/adapter_model.bin', 'PK\u0003\u0004 (a torch.save zip)')),
    argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['adapter_model.bin: the adapter\'s weights are a PyTorch pickle', 'bone-peft does not read pickles: loading one can run any code it contains', 'python -c "import torch, safetensors.torch as st;', 'torch.load(d + \'/adapter_model.bin\', weights_only=True)'], absent: ['ENOENT'] },
  { name: 'inspect a PEFT .bin adapter', item: 13, setup: all(async (p) => { await mkdir(join(p.dir, 'a'), { recursive: true }); await copyFile(join(p.adapter, 'adapter_config.json'), join(p.dir, 'a', 'adapter_config.json')); }, file('a/adapter_model.bin', 'PK')),
    argv: ['inspect', '{dir}/a'], exit: 1, stderr: ['a PyTorch pickle', 'save_file('] },

  // 14: r larger than in_features
  { name: 'train --r 128 on 64-wide projections', item: 14, argv: train('--max-steps', '1', '--r', '128'), exit: 1,
    stderr: ['model.layers.0.self_attn.q_proj: `r` (128) must be less than or equal to in_features (64)', 'choose r ≤ 64'] },
  { name: 'generate with an adapter_config.json that says r 128', item: 14, setup: adapter('a', { config: (c) => { c.r = 128; } }), argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['`r` (128) must be less than or equal to in_features (64)'] },

  // 15: a regex that PEFT refuses
  { name: 'target_modules regex that also matches act_fn', item: 15, setup: adapter('a', { config: (c) => { c.target_modules = '.*\\.(gate_proj|up_proj|down_proj|act_fn)'; } }), argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['Target module model.layers.0.mlp.act_fn (SiLUActivation) is not supported', 'PEFT refuses it too'] },

  // 16: Python-only regex syntax
  { name: 'target_modules with (?P<name>…) and \\Z', item: 16, setup: adapter('a', { config: (c) => { c.target_modules = '.*\\.(?P<proj>q|v)_proj\\Z'; } }), argv: generate('{model}', '{dir}/a'), exit: 0, absent: ['SyntaxError', 'Invalid regular expression'] },
  { name: 'target_modules with (?i) at the start', item: 16, setup: adapter('a', { config: (c) => { c.target_modules = '(?i).*\\.(Q|V)_PROJ'; } }), argv: generate('{model}', '{dir}/a'), exit: 0 },
  { name: 'target_modules with an atomic group', item: 16, setup: adapter('a', { config: (c) => { c.target_modules = '.*(?>q|v)_proj'; } }), argv: generate('{model}', '{dir}/a'), exit: 1,
    stderr: ['adapter_config.json: "target_modules" ".*(?>q|v)_proj" is a Python regex', '(?>…) (an atomic group) has no JavaScript equivalent'], absent: ['SyntaxError'] },

  // 18: tied embeddings with a trained head
  { name: 'merge modules_to_save lm_head onto a model with tied embeddings', item: 18,
    setup: adapter('a', { config: (c) => { c.modules_to_save = ['lm_head']; }, tensors: (t) => { t.set('base_model.model.lm_head.weight', filled([512, 64])); } }),
    argv: merge('{dir}/a'), exit: 0, stdout: ['the output embedding (lm_head) was untied from the input embedding (embed_tokens)'], stderr: ['Input and output embeddings are no longer tied after merging'],
    files: { '{dir}/merged/config.json': ['"tie_word_embeddings": false'] } },

  // 19: the model card
  { name: 'bone train writes a README.md model card', item: 19, argv: train('--max-steps', '1'), exit: 0,
    files: { '{dir}/out/README.md': ['library_name: peft', /tags:\n- base_model:adapter:\/.*\n- bone-peft\n- transformers\n/, '# MiSS adapter for', '| --lr | 0.0002 |', '| final train loss |', '- PEFT 0.21.0'] } },

  // 20: inspect and merge wording
  { name: 'inspect an adapter with modules_to_save and a second adapter in a subfolder', item: 20,
    setup: all(adapter('a', { config: (c) => { c.modules_to_save = ['lm_head']; }, tensors: (t) => { t.set('base_model.model.lm_head.weight', filled([512, 64])); } }), adapter('a/second')),
    argv: ['inspect', '{dir}/a', '--summary'], exit: 0,
    stdout: [/adapted layers: +4 \(1,536 parameters\)/, /modules_to_save: +lm_head \(saved in full: 1 tensor, 32,768 parameters\)/, /other adapters: +second\/ \(MISS, r 8\)/] },
  { name: 'inspect an adapter of fewer than 1,000 parameters', item: 20, setup: adapter('a', { tensors: (t) => { for (const k of [...t.keys()]) if (k !== Q0.replace('q_proj', 'v_proj')) t.delete(k); } }),
    argv: ['inspect', '{dir}/a', '--summary'], exit: 0, stdout: [/trainable parameters: +256 in 1 tensor\n/], absent: ['256 (256)'] },
  { name: 'merge says where the result is and that the base is unchanged', item: 20, argv: merge('{adapter}'), exit: 0,
    stdout: [/^wrote the merged model to .*merged: .* with 4 adapter layers of .* merged in \(106,816 parameters; .* itself is unchanged\)$/m] },

  // handled well before issue 11: keep them so
  { name: 'an unknown command', item: null, argv: ['frobnicate'], exit: 2, stderr: ['bone: unknown command "frobnicate"'] },
  { name: 'a flag typo', item: null, argv: train('--max-step', '3'), exit: 2, stderr: ['unknown option --max-step. Did you mean --max-steps?'] },
  { name: 'a flag value that is no number', item: null, argv: train('--lr', 'fast'), exit: 2, stderr: ['--lr expects a number > 0, found "fast"'] },
  { name: 'a model folder that does not exist', item: null, argv: generate('{dir}/nowhere', null), exit: 2, stderr: ['--model expects a model folder', 'no such folder'] },
  { name: 'a model folder without config.json', item: null, setup: file('m/model.safetensors', ''), argv: generate('{dir}/m', null), exit: 2, stderr: ['without a config.json'] },
  { name: 'a data file that does not exist', item: null, argv: ['train', '--model', '{model}', '--data', '{dir}/none.jsonl', '--out', '{dir}/out'], exit: 2, stderr: ['--data expects a JSONL training file', 'no such file'] },
  { name: 'a data line that is no JSON', item: null, setup: file('d.jsonl', '{"text": "a"}\n{"text": "b"\n'), argv: ['train', '--model', '{model}', '--data', '{dir}/d.jsonl', '--out', '{dir}/out'], exit: 1, stderr: ['d.jsonl:2: invalid JSON'] },
  { name: 'a data file that mixes formats', item: null, setup: jsonl('d.jsonl', [{ text: 'a' }, { prompt: 'b', completion: 'c' }]), argv: ['train', '--model', '{model}', '--data', '{dir}/d.jsonl', '--out', '{dir}/out'], exit: 1, stderr: ['d.jsonl:2:'] },
  { name: '--epochs with --max-steps', item: null, argv: train('--epochs', '1', '--max-steps', '2'), exit: 2, stderr: ['--epochs and --max-steps cannot be used together'] },
  { name: '--eval-every without evaluation data', item: null, argv: train('--eval-every', '2'), exit: 2, stderr: ['--eval-every needs evaluation data'] },
  { name: 'a second run into an --out with a checkpoint', item: null, setup: file('out/checkpoint-3/trainer_state.json', '{}'), argv: train('--max-steps', '4'), exit: 2, stderr: ['already has a checkpoint from an earlier run', 'add --resume'] },
  { name: '--resume with another --r than the checkpoint\'s', item: null, setup: checkpoint('out', 2, { r: 16 }), argv: train('--max-steps', '4', '--resume'), exit: 2, stderr: ['--resume: the checkpoint', 'was trained with --r 16, found --r 8'] },
  { name: 'an adapter folder without adapter_config.json', item: null, setup: file('a/adapter_model.safetensors', ''), argv: generate('{model}', '{dir}/a'), exit: 2, stderr: ['without an adapter_config.json'] },
  { name: 'an adapter_config.json that is no JSON', item: null, setup: all(adapter('a'), file('a/adapter_config.json', '{"peft_type": "MISS",')), argv: generate('{model}', '{dir}/a'), exit: 1, stderr: ['adapter_config.json: invalid JSON'] },
  { name: 'an adapter of a method bone-peft does not have', item: null, setup: adapter('a', { config: (c) => { c.peft_type = 'IA3'; } }), argv: generate('{model}', '{dir}/a'), exit: 1, stderr: ['unsupported peft_type "IA3"'] },
  { name: 'merge --max-shard-size that is no size', item: null, argv: merge('{adapter}', '--max-shard-size', 'big'), exit: 2, stderr: ['--max-shard-size expects a size such as 500MB or 2GB, found "big"'] },
  { name: 'merge --out onto the base model\'s own folder', item: null, argv: ['merge', '--model', '{model}', '--adapter', '{adapter}', '--out', '{model}'], exit: 2, stderr: ['--out must be a new folder'] },
  { name: 'generate --top-k without sampling', item: null, argv: generate('{model}', null, '--top-k', '5'), exit: 2, stderr: ['--top-k and --top-p apply when sampling'] },
  { name: 'convert an adapter of a method that has no conversion', item: null, setup: adapter('a', { config: (c) => { c.peft_type = 'LORA'; delete c.init_weights; delete c.mini_r; delete c.miss_dropout; } }),
    argv: ['convert', '--adapter', '{dir}/a', '--out', '{dir}/c'], exit: 1, stderr: ['to convert, found "LORA"'] },
  { name: 'inspect a path that does not exist', item: null, argv: ['inspect', '{dir}/nothing'], exit: 2, stderr: ['expects a model folder, an adapter folder'] },
];
