/**
 * Model folders: loadModel / loadPretrained / savePretrained against transformers' folder layout.
 *
 * Folders are built in a temporary directory from the fixtures (test/fixtures/models and
 * test/fixtures/reference, written by transformers' save_pretrained), plus one folder that transformers
 * itself wrote in bfloat16 and sharded (test/fixtures/model-folders/llama-bf16-sharded, made by
 * make_fixtures.py there). That folders written here load in transformers with the same logits was
 * checked by hand with scripts/check_transformers_load.py (README, "Interoperability checks").
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Tensor } from '../../src/engine/index.ts';
import { f32ToBf16, f32ToF16 } from '../../src/engine/dtype.ts';
import { ConfigError, createModelFromConfig, type CausalLM } from '../../src/models/index.ts';
import {
  ModelFolderError, loadModel, loadPretrained, parseShardSize, savePretrained,
} from '../../src/io/model-folder.ts';
import { hubCacheLocation, looksLikeRepoId } from '../../src/node/hub-cache.ts';
import { readSafetensors, readSafetensorsHeader, writeSafetensors, type SafetensorsTensor } from '../../src/io/safetensors.ts';
import { ROOT, maxAbsDiff } from '../models/helpers.ts';

const UNTIED = join(ROOT, 'models', 'llama-untied-bias');
const TIED = join(ROOT, 'reference', 'llama-lora', 'base');
const HF_SHARDED = join(ROOT, 'model-folders', 'llama-bf16-sharded');

let tmp: string;
let n = 0;
/** A fresh folder under the test's temporary directory. */
const fresh = async (name: string): Promise<string> => {
  const dir = join(tmp, `${n++}-${name}`);
  await mkdir(dir, { recursive: true });
  return dir;
};

before(async () => { tmp = await mkdtemp(join(tmpdir(), 'bone-peft-model-folder-')); });
after(async () => { await rm(tmp, { recursive: true, force: true }); });

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/** The model's tensors as float32 arrays, by state-dict key. */
async function weightsOf(model: CausalLM): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, t] of model.stateDict()) out.set(k, (await t.data()) as Float32Array);
  return out;
}

/** Same keys, same shapes, same bits (NaN compared as NaN). */
function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, x] of a) {
    const y = b.get(k)!;
    assert.equal(x.length, y.length, k);
    assert.ok(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength)), `${k} differs`);
  }
}

const IDS = BigInt64Array.from([5, 17, 200, 3, 99, 42, 7, 128, 1, 250, 64, 33], BigInt);
async function logitsOf(model: CausalLM, ids: BigInt64Array = IDS, shape: number[] = [2, 6]): Promise<Float32Array> {
  return (await model.forward({ inputIds: Tensor.fromData(ids, shape, 'int64') }).logits.data()) as Float32Array;
}

/** A copy of a fixture folder whose model.safetensors is rewritten tensor by tensor. */
async function rewrittenCopy(source: string, name: string, rewrite: (key: string, t: SafetensorsTensor) => SafetensorsTensor | null): Promise<string> {
  const dir = await fresh(name);
  await cp(join(source, 'config.json'), join(dir, 'config.json'));
  const { tensors } = await readSafetensors(join(source, 'model.safetensors'));
  const out = new Map<string, SafetensorsTensor>();
  for (const [k, t] of tensors) {
    const r = rewrite(k, t);
    if (r) out.set(k, r);
  }
  await writeSafetensors(join(dir, 'model.safetensors'), out, { format: 'pt' });
  return dir;
}

const f32 = (t: SafetensorsTensor): Float32Array => {
  assert.equal(t.dtype, 'F32');
  return t.data as Float32Array;
};

// ---- independent 16-bit → 32-bit conversions (not the code under test) --------------------------------

/** bfloat16 by its definition: sign, 8-bit exponent (bias 127), 7-bit fraction. */
function bf16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 7) & 0xff;
  const frac = bits & 0x7f;
  if (exp === 0xff) return frac ? NaN : sign * Infinity;
  if (exp === 0) return sign * frac * 2 ** -133; // subnormal: frac/128 · 2^-126
  return sign * (1 + frac / 128) * 2 ** (exp - 127);
}

/** float16 → the float32 bit pattern, assembled field by field (subnormals renormalised). */
function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  let exp = (h >> 10) & 0x1f;
  let frac = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (frac << 13)) >>> 0;
  if (exp === 0) {
    if (frac === 0) return sign >>> 0;
    exp = 1;
    while ((frac & 0x400) === 0) { frac <<= 1; exp--; }
    frac &= 0x3ff;
  }
  return (sign | ((exp - 15 + 127) << 23) | (frac << 13)) >>> 0;
}

// ---- round trips ---------------------------------------------------------------------------------------

describe('savePretrained → loadModel', () => {
  for (const [name, source] of [['untied head with biases', UNTIED], ['tied embeddings', TIED]] as const) {
    test(`round trip is bit-exact (${name})`, async () => {
      const model = await loadModel(source);
      const dir = await fresh('saved');
      await savePretrained(model, dir);
      const again = await loadModel(dir);
      assertSameWeights(await weightsOf(model), await weightsOf(again));
      assert.deepEqual(again.config, model.config);
      assert.equal(again.nameOrPath, dir);
      assert.equal(again.training, false, 'loaded models are in eval mode, as from_pretrained returns them');

      // The weight file has transformers' keys, F32, {"format": "pt"}; a tied head is not duplicated.
      const original = await readSafetensorsHeader(join(source, 'model.safetensors'));
      const saved = await readSafetensorsHeader(join(dir, 'model.safetensors'));
      assert.deepEqual([...saved.tensors.keys()].sort(), [...original.tensors.keys()].sort());
      assert.deepEqual(saved.metadata, { format: 'pt' });
      assert.ok([...saved.tensors.values()].every((e) => e.dtype === 'F32'));
      assert.equal(saved.tensors.has('lm_head.weight'), !model.config.tie_word_embeddings);

      // config.json: what transformers 5.18 wrote for the same model, key for key and value for value.
      assert.deepEqual(await readJson(join(dir, 'config.json')), await readJson(join(source, 'config.json')));
      assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
    });
  }

  test('config.json keeps keys transformers reads, names the architecture, and says float32', async () => {
    const model = createModelFromConfig({
      model_type: 'qwen2', vocab_size: 64, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1,
      max_position_embeddings: 32, rope_theta: 50000, torch_dtype: 'bfloat16', custom_key: 'kept',
    }).initWeights({ seed: 3 });
    const dir = await fresh('qwen2');
    await savePretrained(model, dir);
    const text = await readFile(join(dir, 'config.json'), 'utf8');
    const json = JSON.parse(text) as Record<string, unknown>;
    assert.deepEqual(json.architectures, ['Qwen2ForCausalLM']);
    assert.equal(json.model_type, 'qwen2');
    assert.equal(json.dtype, 'float32');
    assert.equal(json.torch_dtype, undefined, 'the legacy name would contradict dtype');
    assert.equal(json.custom_key, 'kept');
    assert.deepEqual(json.rope_parameters, { rope_theta: 50000, rope_type: 'default' });
    assert.deepEqual(Object.keys(json), Object.keys(json).sort(), 'keys sorted, as json.dumps(sort_keys=True)');
    assert.ok(text.startsWith('{\n  "architectures": [\n    "Qwen2ForCausalLM"\n  ],\n') && text.endsWith('}\n'));
    const again = await loadModel(dir);
    assertSameWeights(await weightsOf(model), await weightsOf(again));
    const { architectures: _a, dtype: _d, ...reloaded } = again.config;
    const { torch_dtype: _t, ...expected } = model.config;
    assert.deepEqual(reloaded, expected);
  });

  test('maxShardSize writes shards and an index exactly as transformers splits them', async () => {
    // transformers split this model's bfloat16 weights at 40 KB; float32 at 80 KB puts every key in the same shard.
    const model = await loadModel(HF_SHARDED);
    const dir = await fresh('sharded-save');
    await writeFile(join(dir, 'model.safetensors'), 'stale single file from an earlier save');
    await savePretrained(model, dir, { maxShardSize: '80KB' });
    const ours = await readJson(join(dir, 'model.safetensors.index.json'));
    const theirs = await readJson(join(HF_SHARDED, 'model.safetensors.index.json'));
    assert.deepEqual(ours.weight_map, theirs.weight_map);
    const [om, tm] = [ours.metadata, theirs.metadata] as { total_parameters: number; total_size: number }[];
    assert.equal(om!.total_parameters, tm!.total_parameters);
    assert.equal(om!.total_size, 2 * tm!.total_size);
    assert.deepEqual((await readdir(dir)).sort(), [
      'config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', 'model.safetensors.index.json',
    ], 'the stale model.safetensors, which loaders prefer over an index, is gone');
    assertSameWeights(await weightsOf(model), await weightsOf(await loadModel(dir)));

    // Saving unsharded into the same folder removes the shards and the index.
    await savePretrained(model, dir);
    assert.deepEqual((await readdir(dir)).sort(), ['config.json', 'model.safetensors']);
  });

  test('shard sizes are parsed as huggingface_hub parses them', () => {
    assert.equal(parseShardSize('5GB'), 5e9);
    assert.equal(parseShardSize(' 1.5 mb'), 1.5e6);
    assert.equal(parseShardSize(1234), 1234);
    assert.throws(() => parseShardSize('5GiB'), /size like "500MB".*found "5GiB"/);
    assert.throws(() => parseShardSize(0), /positive number of bytes, found 0/);
  });
});

// ---- 16-bit checkpoints ----------------------------------------------------------------------------------

describe('bfloat16 and float16 checkpoints', () => {
  let reference: Float32Array;
  before(async () => { reference = await logitsOf(await loadModel(UNTIED)); });

  const cases = [
    // Rounding every weight to the format (relative error up to 2^-9 for bfloat16, 2^-11 for float16)
    // moves these logits (|logits| up to 1.9) by 0.014 and 0.0014 (measured); the bounds leave ~3.5× headroom.
    { dtype: 'BF16', round: f32ToBf16, widen: (b: number) => Math.fround(bf16Value(b)), tolerance: 0.05 },
    { dtype: 'F16', round: f32ToF16, widen: (b: number) => new Float32Array(new Uint32Array([f16ToF32Bits(b)]).buffer)[0]!, tolerance: 0.005 },
  ] as const;

  for (const { dtype, round, widen, tolerance } of cases) {
    test(`${dtype} weights are widened to float32 exactly, and the logits stay within ${dtype} rounding`, async () => {
      const rounded = new Map<string, Uint16Array>();
      const dir = await rewrittenCopy(UNTIED, dtype, (k, t) => {
        const bits = round(f32(t));
        rounded.set(k, bits);
        return { dtype, shape: t.shape, data: bits };
      });
      const model = await loadModel(dir);
      for (const [k, t] of model.stateDict()) {
        const got = (await t.data()) as Float32Array;
        const bits = rounded.get(k)!;
        for (let i = 0; i < got.length; i++) {
          if (!Object.is(got[i], widen(bits[i]!))) assert.fail(`${k}[${i}]: ${dtype} bits 0x${bits[i]!.toString(16)} became ${got[i]}, expected ${widen(bits[i]!)}`);
        }
      }
      const diff = maxAbsDiff(await logitsOf(model), reference);
      assert.ok(diff < tolerance, `max |logits − float32 logits| = ${diff}`);
    });
  }

  test('every class of 16-bit pattern converts bit for bit (zeros, subnormals, normals, infinities, NaNs)', async () => {
    const specials = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xffff, 0x007f, 0x0080, 0x7f80, 0x7fc1];
    for (const dtype of ['BF16', 'F16'] as const) {
      let g = 0;
      const written = new Map<string, Uint16Array>();
      // An odd stride visits distinct patterns across all classes; the specials open the first tensor.
      const dir = await rewrittenCopy(UNTIED, `${dtype}-patterns`, (k, t) => {
        const bits = Uint16Array.from({ length: t.data.length }, () => (g < specials.length ? specials[g++]! : (g++ * 40503) & 0xffff));
        written.set(k, bits);
        return { dtype, shape: t.shape, data: bits };
      });
      // The patterns include NaN and ±Infinity, which a load refuses unless asked.
      await assert.rejects(loadModel(dir), /tensor "model\.embed_tokens\.weight" \[256, 32\] holds \d+ NaN, \d+ Inf \(first at flat index \d+\): the checkpoint is broken/);
      const model = await loadModel(dir, { allowNonFinite: true });
      for (const [k, t] of model.stateDict()) {
        const got = new Uint32Array(((await t.data()) as Float32Array).buffer);
        const bits = written.get(k)!;
        for (let i = 0; i < got.length; i++) {
          const b = bits[i]!;
          const expected = dtype === 'BF16' ? (b << 16) >>> 0 : f16ToF32Bits(b);
          const isNaN32 = (x: number): boolean => (x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0;
          // bfloat16 NaN payloads survive (the high half of a float32). float16 NaNs stay NaN; the payload is
          // not compared (the engine's conversion, shared with graph feeds, makes every NaN the canonical one).
          const same = dtype === 'F16' && isNaN32(expected) ? isNaN32(got[i]!) : got[i] === expected;
          if (!same) assert.fail(`${dtype} ${k}[${i}]: bits 0x${b.toString(16)} became 0x${got[i]!.toString(16)}, expected 0x${expected.toString(16)}`);
        }
      }
    }
  });

  test('a bfloat16 sharded folder written by transformers gives transformers\' logits', async () => {
    const model = await loadModel(HF_SHARDED);
    const { tensors } = await readSafetensors(join(HF_SHARDED, 'io.safetensors'));
    const ids = tensors.get('input_ids')!;
    const logits = await logitsOf(model, ids.data as BigInt64Array, ids.shape);
    const diff = maxAbsDiff(logits, tensors.get('logits')!.data as Float32Array);
    assert.ok(diff < 1e-4, `max |logits − transformers| = ${diff}`);
  });
});

// ---- sharded folders -----------------------------------------------------------------------------------------

describe('sharded folders', () => {
  /** The fixture split by hand into two shards and an index (independent of savePretrained). */
  async function shardedCopy(source: string, name: string, editIndex?: (index: { weight_map: Record<string, string> }) => void): Promise<string> {
    const dir = await fresh(name);
    await cp(join(source, 'config.json'), join(dir, 'config.json'));
    const { tensors } = await readSafetensors(join(source, 'model.safetensors'));
    const keys = [...tensors.keys()];
    const half = Math.ceil(keys.length / 2);
    const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const index = { metadata: { total_size: 0 }, weight_map: {} as Record<string, string> };
    for (const [i, part] of [keys.slice(0, half), keys.slice(half)].entries()) {
      await writeSafetensors(join(dir, files[i]!), new Map(part.map((k) => [k, tensors.get(k)!])), { format: 'pt' });
      for (const k of part) index.weight_map[k] = files[i]!;
    }
    editIndex?.(index);
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2));
    return dir;
  }

  test('two shards + index load identically to the single file', async () => {
    const dir = await shardedCopy(UNTIED, 'two-shards');
    assertSameWeights(await weightsOf(await loadModel(UNTIED)), await weightsOf(await loadModel(dir)));
  });

  test('an index naming a missing shard names the index, the shard and a key', async () => {
    const dir = await shardedCopy(UNTIED, 'missing-shard');
    await rm(join(dir, 'model-00002-of-00002.safetensors'));
    await assert.rejects(loadModel(dir), (err: Error) => {
      assert.ok(err instanceof ModelFolderError);
      assert.match(err.message, /model\.safetensors\.index\.json: maps \d+ tensor\(s\) \(first "[^"]+"\) to model-00002-of-00002\.safetensors, but .*model-00002-of-00002\.safetensors does not exist/);
      return true;
    });
  });

  test('an index entry that its shard does not hold is an error naming both', async () => {
    const dir = await shardedCopy(UNTIED, 'wrong-index', (index) => { index.weight_map['model.norm.weight'] = 'model-00001-of-00002.safetensors'; });
    await assert.rejects(loadModel(dir), /maps "model\.norm\.weight" to model-00001-of-00002\.safetensors, but model-00001-of-00002\.safetensors has no such tensor \(it is in model-00002-of-00002\.safetensors\)/);
  });

  test('an index entry outside the folder is refused', async () => {
    const dir = await shardedCopy(UNTIED, 'escaping-index', (index) => { index.weight_map['model.norm.weight'] = '../elsewhere.safetensors'; });
    await assert.rejects(loadModel(dir), /weight_map\["model\.norm\.weight"\] must be a file name in the same folder, found "\.\.\/elsewhere\.safetensors"/);
  });
});

// ---- the Hugging Face cache ------------------------------------------------------------------------------------

describe('Hugging Face cache layout', () => {
  const COMMIT = 'a'.repeat(40);
  const OTHER = 'b'.repeat(40);
  const saved = { ...process.env };
  after(() => {
    for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) {
      if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
    }
  });
  const clearEnv = (): void => {
    for (const k of ['HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) delete process.env[k];
  };

  /** huggingface_hub's layout: blobs/<hash> holds the bytes, snapshots/<commit>/<file> links to it, refs/<name> holds a commit. */
  async function fakeCache(hub: string, repoId: string, snapshots: Record<string, string>, refs: Record<string, string>): Promise<void> {
    const repo = join(hub, `models--${repoId.replace('/', '--')}`);
    await mkdir(join(repo, 'blobs'), { recursive: true });
    for (const [commit, source] of Object.entries(snapshots)) {
      const snapshot = join(repo, 'snapshots', commit);
      await mkdir(snapshot, { recursive: true });
      for (const file of ['config.json', 'model.safetensors']) {
        const blob = `${commit.slice(0, 8)}-${file}`;
        await cp(join(source, file), join(repo, 'blobs', blob));
        await symlink(join('..', '..', 'blobs', blob), join(snapshot, file));
      }
    }
    await mkdir(join(repo, 'refs'), { recursive: true });
    for (const [name, commit] of Object.entries(refs)) await writeFile(join(repo, 'refs', name), commit);
  }

  test('a repo id resolves through $HF_HUB_CACHE, refs/main, a named revision and a commit hash', async () => {
    const hub = await fresh('hub');
    await fakeCache(hub, 'test-org/tiny-llama', { [COMMIT]: UNTIED, [OTHER]: TIED }, { main: `${COMMIT}\n`, v2: OTHER });
    clearEnv();
    process.env.HF_HUB_CACHE = hub;
    const model = await loadModel('test-org/tiny-llama');
    assert.equal(model.nameOrPath, 'test-org/tiny-llama');
    assert.equal(model.config.tie_word_embeddings, false, 'refs/main → the untied model');
    assertSameWeights(await weightsOf(model), await weightsOf(await loadModel(UNTIED)));
    assert.equal((await loadModel('test-org/tiny-llama', { revision: 'v2' })).config.tie_word_embeddings, true);
    assert.equal((await loadModel('test-org/tiny-llama', { revision: OTHER })).config.tie_word_embeddings, true);
    await assert.rejects(loadModel('test-org/tiny-llama', { revision: '../../elsewhere' }), /revision "\.\.\/\.\.\/elsewhere" is not a branch, tag or commit hash/);
  });

  test('$HF_HOME/hub is the fallback; loadPretrained adds the tokenizer when the folder has one', async () => {
    const home = await fresh('hf-home');
    await fakeCache(join(home, 'hub'), 'tiny-llama', { [COMMIT]: UNTIED }, { main: COMMIT });
    clearEnv();
    process.env.HF_HOME = home;
    const { model, tokenizer } = await loadPretrained('tiny-llama');
    assert.equal(model.nameOrPath, 'tiny-llama');
    assert.equal(tokenizer, null, 'no tokenizer.json, no tokenizer');

    const withTokenizer = await fresh('with-tokenizer');
    await cp(UNTIED, withTokenizer, { recursive: true });
    await cp(join(ROOT, 'tokenizers', 'llama'), withTokenizer, { recursive: true });
    const both = await loadPretrained(withTokenizer);
    assert.ok(both.tokenizer);
    assert.ok(both.tokenizer.encode('hello world').length > 0);
  });

  test('the cache folder is chosen as huggingface_hub chooses it', () => {
    const at = (env: Record<string, string>, cacheDir?: string): string => hubCacheLocation({ env, ...(cacheDir ? { cacheDir } : {}) }).dir;
    const all = { HF_HUB_CACHE: '/a', HUGGINGFACE_HUB_CACHE: '/b', HF_HOME: '/c', XDG_CACHE_HOME: '/d' };
    assert.equal(at(all, '/explicit'), '/explicit');
    assert.equal(at(all), '/a');
    assert.equal(at({ ...all, HF_HUB_CACHE: '' }), '/b', 'an empty variable counts as unset');
    assert.equal(at({ HF_HOME: '/c', XDG_CACHE_HOME: '/d' }), '/c/hub');
    assert.equal(at({ XDG_CACHE_HOME: '/d' }), '/d/huggingface/hub');
    assert.equal(at({}), join(homedir(), '.cache', 'huggingface', 'hub'));
    assert.equal(at({ HF_HOME: '~/hf' }), join(homedir(), 'hf', 'hub'));
    for (const id of ['gpt2', 'HuggingFaceTB/SmolLM2-135M', 'org/model.v1_2']) assert.ok(looksLikeRepoId(id), id);
    for (const id of ['./model', '/abs/path', 'a/b/c', 'org/-bad', 'a--b/c', 'org/a..b', '']) assert.ok(!looksLikeRepoId(id), id);
  });

  test('a repo found nowhere is an error listing every place looked at', async () => {
    const hub = await fresh('empty-hub');
    clearEnv();
    process.env.HF_HUB_CACHE = hub;
    await assert.rejects(loadModel('nobody/no-such-model'), (err: Error) => {
      assert.ok(err instanceof ModelFolderError);
      assert.match(err.message, /model "nobody\/no-such-model" \(revision "main"\) not found; looked at:/);
      assert.ok(err.message.includes(`${join(process.cwd(), 'nobody', 'no-such-model')}: no such local folder`), err.message);
      assert.ok(err.message.includes(`${join(hub, 'models--nobody--no-such-model')} (hub cache chosen by $HF_HUB_CACHE): no such folder`), err.message);
      return true;
    });
    await fakeCache(hub, 'nobody/half-downloaded', { [COMMIT]: UNTIED }, { main: OTHER });
    await assert.rejects(loadModel('nobody/half-downloaded'), new RegExp(`snapshots/${OTHER}: no such snapshot \\(named by .*refs/main\\)`));
    await assert.rejects(loadModel('./not/a/folder'), /no model folder at .*not\/a\/folder \(and "\.\/not\/a\/folder" is not a Hub repository id/);
  });
});

// ---- errors ----------------------------------------------------------------------------------------------------

describe('errors name the folder, the file, the key and the shapes', () => {
  test('a missing weight names the key and its expected shape', async () => {
    const dir = await rewrittenCopy(UNTIED, 'missing-key', (k, t) => (k === 'model.layers.1.mlp.up_proj.weight' ? null : t));
    await assert.rejects(loadModel(dir), (err: Error) => {
      assert.ok(err instanceof ModelFolderError);
      assert.ok(err.message.startsWith(`${dir}: the checkpoint (model.safetensors) does not fit LlamaForCausalLM`), err.message);
      assert.match(err.message, /missing weights \(1\):\n {2}model\.layers\.1\.mlp\.up_proj\.weight \(expected shape \[64, 32\]\)/);
      return true;
    });
  });

  test('a tied model needs its embedding under either name; lm_head.weight alone will do', async () => {
    const dir = await rewrittenCopy(TIED, 'tied-head-only', (k, t) => (k === 'model.embed_tokens.weight' ? null : t));
    const { tensors } = await readSafetensors(join(TIED, 'model.safetensors'));
    const source = await readSafetensors(join(dir, 'model.safetensors'));
    source.tensors.set('lm_head.weight', tensors.get('model.embed_tokens.weight')!);
    await writeSafetensors(join(dir, 'model.safetensors'), source.tensors);
    assertSameWeights(await weightsOf(await loadModel(TIED)), await weightsOf(await loadModel(dir)));
    const none = await rewrittenCopy(TIED, 'tied-none', (k, t) => (k === 'model.embed_tokens.weight' ? null : t));
    await assert.rejects(loadModel(none), /missing weights \(1\):\n {2}model\.embed_tokens\.weight \/ lm_head\.weight \(expected shape \[512, 64\]\)/);
  });

  test('an unexpected weight names the key and its file; rotary inv_freq buffers are ignored as transformers does', async () => {
    const extra: SafetensorsTensor = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
    const dir = await rewrittenCopy(UNTIED, 'unexpected', (_k, t) => t);
    const { tensors } = await readSafetensors(join(dir, 'model.safetensors'));
    tensors.set('model.layers.0.self_attn.rotary_emb.inv_freq', extra);
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await loadModel(dir);
    tensors.set('model.layers.0.self_attn.extra.weight', extra);
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    await assert.rejects(loadModel(dir), /unexpected weights \(1\):\n {2}model\.layers\.0\.self_attn\.extra\.weight in model\.safetensors \(shape \[2\]\)/);
  });

  test('a shape mismatch names the key, the file, the expected and the found shape', async () => {
    const dir = await rewrittenCopy(UNTIED, 'shape', (k, t) => (k === 'model.norm.weight' ? { dtype: 'F32', shape: [16, 2], data: f32(t) } : t));
    await assert.rejects(loadModel(dir), /weights that do not fit \(1\):\n {2}model\.norm\.weight in model\.safetensors: expected shape \[32\], found \[16, 2\]/);
  });

  test('an integer tensor where a weight belongs is refused by dtype', async () => {
    const dir = await rewrittenCopy(UNTIED, 'int-weight', (k, t) => (k === 'model.norm.weight' ? { dtype: 'I32', shape: t.shape, data: new Int32Array(t.data.length) } : t));
    await assert.rejects(loadModel(dir), /model\.norm\.weight in model\.safetensors: expected a float tensor \(F32, BF16, F16, F64\), found I32/);
  });

  test('an unsupported model_type names config.json and lists the supported ones', async () => {
    const dir = await fresh('gpt2');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', vocab_size: 10 }));
    await assert.rejects(loadModel(dir), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `${join(dir, 'config.json')}: unsupported model_type "gpt2"; supported model types: llama, mistral, qwen2, qwen3`);
      return true;
    });
  });

  test('a folder without config.json, or without weights, says what it found', async () => {
    const dir = await fresh('no-config');
    await cp(join(UNTIED, 'model.safetensors'), join(dir, 'model.safetensors'));
    await assert.rejects(loadModel(dir), new RegExp(`^ModelFolderError: ${dir}: no config\\.json; a Hugging Face model folder needs one \\(found: model\\.safetensors\\)`));
    const noWeights = await fresh('no-weights');
    await cp(join(UNTIED, 'config.json'), join(noWeights, 'config.json'));
    await writeFile(join(noWeights, 'pytorch_model.bin'), '');
    await assert.rejects(loadModel(noWeights), /no model\.safetensors and no model\.safetensors\.index\.json \(found: config\.json, pytorch_model\.bin\); only safetensors checkpoints are read/);
    await writeFile(join(dir, 'config.json'), '{ not json');
    await assert.rejects(loadModel(dir), /config\.json: not valid JSON/);
  });
});
