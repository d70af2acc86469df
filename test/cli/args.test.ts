import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  UsageError, checkOptions, coerceValue, helpText, loadCommandLine, parseCommandLine, refuseBoth, requireOptions, withDefaults,
  type CommandSyntax, type OptionSpecs,
} from '../../src/cli/args.ts';

const syntax = {
  name: 'demo',
  summary: 'A command for the tests.',
  usage: '--model DIR [options]',
  options: {
    model: { kind: 'path', required: true, valueName: 'DIR', description: 'the model folder' },
    method: { kind: 'choice', choices: ['miss', 'bone', 'lora'], default: 'miss', description: 'the adapter' },
    r: { kind: 'integer', min: 1, default: 64, description: 'block size' },
    lr: { kind: 'number', min: 0, minExclusive: true, default: 2e-4, description: 'learning rate' },
    evalFraction: { kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true, description: 'eval share' },
    targets: { kind: 'list', description: 'modules' },
    quiet: { kind: 'boolean', description: 'be quiet' },
    epochs: { kind: 'integer', min: 1, description: 'epochs' },
    maxSteps: { kind: 'integer', min: 1, description: 'steps' },
  },
} as const satisfies CommandSyntax<OptionSpecs>;

/** The UsageError's message, asserting that it is one (exit code 2 in main). */
function usageMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
    assert.equal(e.command, 'demo');
    return e.message;
  }
  assert.fail('expected a UsageError');
}

describe('parseCommandLine', () => {
  test('parses every kind of value; kebab-case flags become camelCase keys', () => {
    const { values, help, positional, configFile } = parseCommandLine(syntax, [
      '--model', 'm', '--method', 'lora', '--r', '16', '--lr=1e-3', '--eval-fraction', '0.25', '--targets', 'q_proj, v_proj', '--quiet', '--max-steps', '7',
    ]);
    assert.deepEqual(values, { model: 'm', method: 'lora', r: 16, lr: 1e-3, evalFraction: 0.25, targets: ['q_proj', 'v_proj'], quiet: true, maxSteps: 7 });
    assert.equal(help, false);
    assert.equal(positional, null);
    assert.equal(configFile, null);
  });

  test('--help and -h', () => {
    assert.equal(parseCommandLine(syntax, ['--help']).help, true);
    assert.equal(parseCommandLine(syntax, ['-h']).help, true);
  });

  test('the last occurrence of a flag wins', () => {
    assert.equal(parseCommandLine(syntax, ['--r', '8', '--r', '16']).values.r, 16);
  });

  test('unknown option: names it, suggests the near miss, lists what is accepted', () => {
    const msg = usageMessage(() => parseCommandLine(syntax, ['--max-step', '3']));
    assert.match(msg, /unknown option --max-step\. Did you mean --max-steps\?/);
    assert.match(msg, /Expected one of: --model, --method, --r, --lr/);
    assert.match(usageMessage(() => parseCommandLine(syntax, ['-x'])), /unknown option -x/);
    assert.match(usageMessage(() => parseCommandLine(syntax, ['-r', '8'])), /unknown option -r\. Did you mean --r\?/);
    assert.match(usageMessage(() => parseCommandLine(syntax, ['--constructor', 'x'])), /unknown option --constructor/);
    assert.doesNotMatch(usageMessage(() => parseCommandLine(syntax, ['--zzzzzzzz'])), /Did you mean/);
  });

  test('missing value: at the end, or followed by another flag', () => {
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--r'])), '--r expects a value (an integer ≥ 1), found nothing');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--model', '--r', '8'])), '--model expects a value (a path (DIR)), found the option --r');
    assert.match(usageMessage(() => parseCommandLine(syntax, ['--config'])), /--config expects a value \(a JSON file\), found nothing/);
  });

  test('bad numbers name the flag, the range and the value found', () => {
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--r', 'abc'])), '--r expects an integer ≥ 1, found "abc"');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--r', '2.5'])), '--r expects an integer ≥ 1, found "2.5"');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--r', '0'])), '--r expects an integer ≥ 1, found "0"');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--r', ''])), '--r expects an integer ≥ 1, found ""');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--lr', '0'])), '--lr expects a number > 0, found "0"');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--lr', '1e-3x'])), '--lr expects a number > 0, found "1e-3x"');
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--eval-fraction', '1'])), '--eval-fraction expects a number > 0 and < 1, found "1"');
    // a negative number is a value, not a flag; it is then out of range
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--r', '-1'])), '--r expects an integer ≥ 1, found "-1"');
  });

  test('unknown choice lists the choices', () => {
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--method', 'dora'])), '--method expects one of miss, bone, lora, found "dora"');
  });

  test('a boolean flag takes no value; lists reject empty items', () => {
    assert.equal(usageMessage(() => parseCommandLine(syntax, ['--quiet=yes'])), '--quiet takes no value, found "yes"');
    assert.match(usageMessage(() => parseCommandLine(syntax, ['--targets', 'q_proj,,v_proj'])), /--targets expects a comma-separated list, found "q_proj,,v_proj"/);
  });

  test('positional arguments are refused unless the command takes one', () => {
    assert.match(usageMessage(() => parseCommandLine(syntax, ['stray'])), /unexpected argument "stray": bone demo takes only options/);
    const withPath = { ...syntax, positional: { name: 'PATH', description: 'a folder' } };
    assert.equal(parseCommandLine(withPath, ['some/dir']).positional, 'some/dir');
    assert.match(usageMessage(() => parseCommandLine(withPath, ['a', 'b'])), /expected one PATH, already have "a"/);
  });
});

describe('checks after parsing', () => {
  test('checkOptions: options from code are checked as flags are; a key that is no option is refused with the near miss', () => {
    assert.deepEqual(checkOptions(syntax, { model: 'm', r: 8, io: {} }, 'runDemo options'), { model: 'm', r: 8 });
    assert.equal(usageMessage(() => checkOptions(syntax, { model: 'm', maxStep: 3 }, 'runDemo options')),
      `runDemo options.maxStep is not an option of bone demo. Did you mean maxSteps? Options: ${Object.keys(syntax.options).join(', ')}`);
    assert.equal(usageMessage(() => checkOptions(syntax, { r: 'eight' }, 'runDemo options')), 'runDemo options.r expects an integer ≥ 1, found "eight"');
  });

  test('requireOptions names the missing flag and what it is', () => {
    assert.equal(usageMessage(() => requireOptions(syntax, {})), 'missing --model DIR: expected the model folder');
    requireOptions(syntax, { model: 'x' });
  });

  test('refuseBoth names both flags', () => {
    assert.match(usageMessage(() => refuseBoth(syntax, { epochs: 1, maxSteps: 2 }, 'epochs', 'maxSteps', 'pick one')), /--epochs and --max-steps cannot be used together \(found both\): pick one/);
    refuseBoth(syntax, { epochs: 1 }, 'epochs', 'maxSteps', 'pick one');
  });

  test('withDefaults fills only what is absent', () => {
    assert.deepEqual(withDefaults(syntax, { r: 8 }), { method: 'miss', r: 8, lr: 2e-4 });
  });

  test('options from code get the same checks, naming the field', () => {
    assert.equal(usageMessage(() => checkOptions(syntax, { r: 'eight' }, 'runDemo options')), 'runDemo options.r expects an integer ≥ 1, found "eight"');
    assert.equal(usageMessage(() => checkOptions(syntax, { method: 'dora' }, 'runDemo options')), 'runDemo options.method expects one of miss, bone, lora, found "dora"');
    // fields outside the syntax (io, signal, ...) are the caller's business
    assert.deepEqual(checkOptions(syntax, { r: 8, io: {}, targets: ['a'] }, 'x'), { r: 8, targets: ['a'] });
  });

  test('coerceValue takes JSON types as they are, and strings as flags', () => {
    const r = syntax.options.r;
    assert.equal(coerceValue('demo', r, 12, 'r'), 12);
    assert.equal(coerceValue('demo', r, '12', 'r'), 12);
    assert.throws(() => coerceValue('demo', r, true, 'r'), /r expects an integer ≥ 1, found true \(a boolean\)/);
    assert.equal(coerceValue('demo', syntax.options.quiet, 'true', 'quiet'), true);
    assert.deepEqual(coerceValue('demo', syntax.options.targets, 'a,b', 't'), ['a', 'b']);
  });
});

describe('--config files', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'bone-cli-args-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  test('flags override the file; keys may be flag names or camelCase; paths are relative to the file', async () => {
    const file = join(dir, 'run.json');
    await writeFile(file, JSON.stringify({ model: 'models/small', r: 8, 'max-steps': 10, lr: '0.001', targets: ['q_proj', 'k_proj'], quiet: true, evalFraction: 0.1 }));
    const { values } = await loadCommandLine(syntax, ['--config', file, '--r', '16']);
    assert.deepEqual(values, { model: join(dir, 'models/small'), r: 16, maxSteps: 10, lr: 0.001, targets: ['q_proj', 'k_proj'], quiet: true, evalFraction: 0.1 });
  });

  test('a bad file is a usage error naming the file and the key', async () => {
    const write = async (name: string, text: string): Promise<string> => { const f = join(dir, name); await writeFile(f, text); return f; };
    const message = async (argv: string[]): Promise<string> => {
      const e = await loadCommandLine(syntax, argv).then(() => null, (err: unknown) => err);
      assert.ok(e instanceof UsageError, `expected a UsageError, got ${String(e)}`);
      return e.message;
    };
    const unknown = await write('unknown.json', '{"max-step": 3}');
    assert.match(await message(['--config', unknown]), new RegExp(`${unknown}: unknown key "max-step"\\. Did you mean max-steps\\?`));
    const badType = await write('bad-type.json', '{"r": "eight"}');
    assert.equal(await message(['--config', badType]), `${badType}: "r" expects an integer ≥ 1, found "eight"`);
    const badBool = await write('bad-bool.json', '{"quiet": 1}');
    assert.equal(await message(['--config', badBool]), `${badBool}: "quiet" expects true or false, found 1 (a number)`);
    const notJson = await write('not-json.json', '{r: 1}');
    assert.match(await message(['--config', notJson]), new RegExp(`${notJson}: expected JSON, found a parse error`));
    const array = await write('array.json', '[1]');
    assert.match(await message(['--config', array]), /expected a JSON object of options .*, found \[1\] \(an array\)/);
    assert.match(await message(['--config', join(dir, 'missing.json')]), /--config expects a readable JSON file, found ".*missing\.json" \(ENOENT\)/);
  });

  test('--help does not read the config file', async () => {
    assert.equal((await loadCommandLine(syntax, ['--config', join(dir, 'missing.json'), '--help'])).help, true);
  });
});

test('help text lists required options, defaults, choices and --config', () => {
  const text = helpText(syntax);
  assert.match(text, /^Usage: bone demo --model DIR \[options\]/);
  assert.match(text, /Required:\n {2}--model DIR +the model folder/);
  assert.match(text, /--method VALUE +the adapter \[miss\|bone\|lora\] \(default: miss\)/);
  assert.match(text, /--r N +block size \(default: 64\)/);
  assert.match(text, /--config FILE/);
  assert.match(text, /-h, --help/);
});
