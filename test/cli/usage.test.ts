/**
 * Every command's usage errors, through main() in-process: exit code 2 and a message that names
 * the flag, what was expected and what was found. (The end-to-end test spawns the real process once.)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../src/cli/args.ts';
import { runTrain } from '../../src/cli/commands/train.ts';
import { captureIO } from '../../src/cli/io.ts';
import { COMMANDS, main } from '../../src/cli/main.ts';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const MODEL = join(FIXTURES, 'reference', 'llama-miss-default', 'base');
const ADAPTER = join(FIXTURES, 'reference', 'llama-miss-default', 'adapter');
const DATA = join(FIXTURES, 'cli', 'train.jsonl');

let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'bone-cli-usage-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

/** Run `bone ...argv` in-process; returns the exit code and what went to stderr. */
async function bone(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = captureIO();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** Expect a usage error (exit 2) whose first line matches. */
async function usageError(argv: string[], expected: RegExp): Promise<void> {
  const { code, err, out } = await bone(...argv);
  assert.equal(code, 2, `exit code of bone ${argv.join(' ')}; stderr: ${err}`);
  assert.equal(out, '');
  assert.match(err.split('\n')[0]!, expected);
}

describe('bone (top level)', () => {
  test('--help lists every command; --version prints the version; help <command>', async () => {
    const help = await bone('--help');
    assert.equal(help.code, 0);
    for (const c of COMMANDS) assert.match(help.out, new RegExp(`^ {2}${c.syntax.name} `, 'm'));
    assert.equal((await bone()).code, 0);
    assert.match((await bone('--version')).out, /^\d+\.\d+\.\d+\n$/);
    assert.match((await bone('help', 'merge')).out, /^Usage: bone merge/);
  });

  test('an unknown command lists the commands', async () => {
    await usageError(['frobnicate'], /^bone: unknown command "frobnicate"\. Expected one of: train, generate, merge, export, convert, inspect, bench, --help, --version\./);
  });

  test('every command has --help with its usage line, exit 0', async () => {
    for (const c of COMMANDS) {
      const { code, out } = await bone(c.syntax.name, '--help');
      assert.equal(code, 0, c.syntax.name);
      assert.match(out, new RegExp(`^Usage: bone ${c.syntax.name} `), c.syntax.name);
    }
  });

  test('a usage error points at the command\'s --help', async () => {
    const { err } = await bone('train', '--bogus');
    assert.match(err, /\nRun 'bone train --help' for the options\.\n$/);
  });
});

describe('bone train', () => {
  const base = (): string[] => ['train', '--model', MODEL, '--data', DATA, '--out', join(dir, 'run')];

  test('missing required options name the flag and what it is', async () => {
    await usageError(['train'], /^bone train: missing --model DIR: expected the base model folder/);
    await usageError(['train', '--model', MODEL], /missing --data FILE: expected the training data/);
    await usageError(['train', '--model', MODEL, '--data', DATA], /missing --out DIR: expected the folder for the adapter/);
  });

  test('unknown flag, missing value, bad number, unknown method', async () => {
    await usageError([...base(), '--max-step', '3'], /unknown option --max-step\. Did you mean --max-steps\?/);
    await usageError([...base(), '--lr'], /--lr expects a value \(a number > 0\), found nothing/);
    await usageError([...base(), '--r', '--lr', '1'], /--r expects a value \(an integer ≥ 1\), found the option --lr/);
    await usageError([...base(), '--r', 'sixty-four'], /--r expects an integer ≥ 1, found "sixty-four"/);
    await usageError([...base(), '--batch-size', '0'], /--batch-size expects an integer ≥ 1, found "0"/);
    await usageError([...base(), '--eval-fraction', '1.5'], /--eval-fraction expects a number > 0 and < 1, found "1\.5"/);
    await usageError([...base(), '--method', 'dora'], /--method expects one of miss, bone, bat, mini, lora, found "dora"/);
    await usageError([...base(), '--schedule', 'step'], /--schedule expects one of linear, cosine, constant, found "step"/);
    await usageError([...base(), '--resume=yes'], /--resume takes no value, found "yes"/);
  });

  test('missing or wrong paths', async () => {
    await usageError(['train', '--model', '/nonexistent/model', '--data', DATA, '--out', join(dir, 'run')],
      /--model expects a model folder \(config\.json \+ \*\.safetensors\) or a Hugging Face repo id in the local cache, found "\/nonexistent\/model": no such folder/);
    await usageError(['train', '--model', DATA, '--data', DATA, '--out', join(dir, 'run')], /--model expects a model folder .*, found the file/);
    await usageError(['train', '--model', FIXTURES, '--data', DATA, '--out', join(dir, 'run')], /found the folder ".*" without a config\.json/);
    await usageError(['train', '--model', MODEL, '--data', join(dir, 'nope.jsonl'), '--out', join(dir, 'run')], /--data expects a JSONL training file, found ".*nope\.jsonl": no such file/);
    await usageError([...base(), '--eval', FIXTURES], /--eval expects a JSONL evaluation file, found ".*": a folder/);
    await usageError(['train', '--model', MODEL, '--data', DATA, '--out', DATA], /--out expects a folder to write into, found the file/);
  });

  test('a repo id that is not in the hub cache says where it looked', async () => {
    const saved = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = join(dir, 'empty-hub');
    try {
      await usageError(['train', '--model', 'nobody/nothing', '--data', DATA, '--out', join(dir, 'run')], /found "nobody\/nothing": no such folder, and not in the hub cache \(looked at: .*empty-hub.*models--nobody--nothing/);
    } finally {
      if (saved === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = saved;
    }
  });

  test('options that do not go together', async () => {
    await usageError([...base(), '--eval', DATA, '--eval-fraction', '0.1'], /--eval and --eval-fraction cannot be used together \(found both\)/);
    await usageError([...base(), '--epochs', '2', '--max-steps', '10'], /--epochs and --max-steps cannot be used together/);
    await usageError([...base(), '--mini-r', '4'], /--mini-r applies only to --method mini, found --method miss/);
    await usageError([...base(), '--lora-alpha', '16'], /--lora-alpha applies only to --method lora, found --method miss/);
    await usageError([...base(), '--method', 'bone', '--dropout', '0.1'], /--dropout is not available for --method bone/);
    await usageError([...base(), '--eval-every', '5'], /--eval-every needs evaluation data: add --eval FILE or --eval-fraction F/);
  });

  test('--config: a bad key or value names the file; flags still checked', async () => {
    const config = join(dir, 'run.json');
    await writeFile(config, JSON.stringify({ model: MODEL, data: DATA, out: join(dir, 'run'), method: 'dora' }));
    await usageError(['train', '--config', config], new RegExp(`${config}: "method" expects one of miss, bone, bat, mini, lora, found "dora"`));
    await writeFile(config, JSON.stringify({ model: MODEL, data: DATA, out: join(dir, 'run'), 'learning-rate': 1 }));
    await usageError(['train', '--config', config], /unknown key "learning-rate"/);
    // flags override the file: the file's bad method is replaced, the flag's bad r is reported
    await writeFile(config, JSON.stringify({ model: MODEL, data: DATA, out: join(dir, 'run'), method: 'miss' }));
    await usageError(['train', '--config', config, '--r', '0'], /--r expects an integer ≥ 1, found "0"/);
  });

  test('runTrain checks options from code the same way', async () => {
    const bad = { model: MODEL, data: DATA, out: join(dir, 'run'), r: 'eight' } as unknown as Parameters<typeof runTrain>[0];
    await assert.rejects(runTrain(bad), (e: unknown) => e instanceof UsageError && e.message === 'runTrain options.r expects an integer ≥ 1, found "eight"');
    const file = { model: MODEL, data: DATA, out: DATA };
    await assert.rejects(runTrain(file), /--out expects a folder to write into, found the file/);
  });
});

describe('bone generate, merge, convert, inspect, bench', () => {
  test('generate', async () => {
    await usageError(['generate', '--model', MODEL], /missing --prompt TEXT: expected the text to continue/);
    await usageError(['generate', '--model', MODEL, '--prompt', 'hi', '--max-new-tokens', '-1'], /--max-new-tokens expects an integer ≥ 0, found "-1"/);
    await usageError(['generate', '--model', MODEL, '--prompt', 'hi', '--top-k', '5'], /--top-k and --top-p apply when sampling: add --temperature \(> 0\), found --temperature 0 \(greedy\)/);
    await usageError(['generate', '--model', MODEL, '--prompt', 'hi', '--adapter', MODEL], /--adapter expects an adapter folder \(adapter_config\.json \+ adapter_model\.safetensors\), found the folder ".*" without an adapter_config\.json/);
    await usageError(['generate', '--model', MODEL, '--prompt', 'hi', '--top-p', '0', '--temperature', '1'], /--top-p expects a number > 0 and ≤ 1, found "0"/);
  });

  test('merge', async () => {
    await usageError(['merge', '--model', MODEL, '--out', join(dir, 'merged')], /missing --adapter DIR/);
    await usageError(['merge', '--model', MODEL, '--adapter', join(dir, 'none'), '--out', join(dir, 'merged')], /--adapter expects an adapter folder .*: no such folder/);
    await usageError(['merge', '--model', MODEL, '--adapter', ADAPTER, '--out', MODEL], /--out must be a new folder, found the base model's own folder/);
    await usageError(['merge', '--model', MODEL, '--adapter', ADAPTER, '--out', join(dir, 'm'), '--max-shard-size', 'big'], /--max-shard-size expects a size such as 500MB or 2GB, found "big"/);
  });

  test('convert', async () => {
    await usageError(['convert', '--adapter', ADAPTER], /missing --out DIR: expected the folder to write the LoRA or MiSS adapter to/);
    await usageError(['convert', '--adapter', join(dir, 'none'), '--out', join(dir, 'c')], /--adapter expects an adapter folder .*: no such folder/);
    // a MiSS adapter converts to LoRA only, which needs the base model: the work fails (exit 1) saying so
    const { code, err } = await bone('convert', '--adapter', ADAPTER, '--out', join(dir, 'c'));
    assert.equal(code, 1);
    assert.match(err, /base_model_name_or_path is null, and converting to LoRA needs the base model .*--model DIR/);
    await usageError(['convert', '--to', 'miss', '--adapter', ADAPTER, '--out', join(dir, 'c')], /--to miss: a MISS adapter converts to lora/);
    await usageError(['convert', '--adapter', ADAPTER, '--out', join(dir, 'c'), '--rank', '1.5'], /--rank expects an integer ≥ 1 or a share in \(0, 1\] such as 0\.99, found "1\.5"/);
  });

  test('inspect', async () => {
    await usageError(['inspect'], /missing PATH: expected a model folder or an adapter folder/);
    await usageError(['inspect', join(dir, 'none')], /PATH expects a model folder, an adapter folder .*: no such folder/);
    await usageError(['inspect', MODEL, '--tensors'], /unknown option --tensors/);
    await usageError(['inspect', MODEL, '--path', ADAPTER], /expected one folder to inspect, found both PATH ".*" and --path ".*"/);
    const config = join(dir, 'inspect.json');
    await writeFile(config, JSON.stringify({ path: ADAPTER, summary: true }));
    const viaConfig = await bone('inspect', '--config', config);
    assert.equal(viaConfig.code, 0, viaConfig.err);
    assert.match(viaConfig.out, /^adapter folder .*adapter\n/);
    assert.doesNotMatch(viaConfig.out, /tensor +dtype/);
    const empty = join(dir, 'empty');
    await mkdir(empty, { recursive: true });
    await usageError(['inspect', empty], /PATH expects a model folder, an adapter folder .*without a config\.json/);
  });

  test('bench', async () => {
    await usageError(['bench', '--model', MODEL, '--layers', '2'], /--layers applies to the built-in model only, found --model .* too/);
    await usageError(['bench', '--seq-len', '1'], /--seq-len expects an integer ≥ 2, found "1"/);
    await usageError(['bench', '--method', 'vera'], /--method expects one of miss, bone, bat, mini, lora, found "vera"/);
  });
});
