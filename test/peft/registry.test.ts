/**
 * Adding an adapter method is one config declaration, one layer and one registry record: a toy
 * method (a learned per-output scale, y = base(x) · (1 + s), PEFT's IA³ in its simplest form)
 * registered here trains, merges, saves and loads through PeftModel, reads its adapter_config.json,
 * and appears on the command line (--method, its flag, its --help text), with no code outside this
 * file knowing it. Checked against an independent computation of the same formula.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Generator, Tensor } from '../../src/engine/index.ts';
import { Linear, Module, Parameter } from '../../src/nn/index.ts';
import {
  AdapterLayer, PeftModel, configFromJSON, defineAdapterConfig, getPeftModel, methodVariants, numberField, peftMethod, registerPeftMethod,
  type PeftConfig, type PeftConfigOptions, type FieldOptions,
} from '../../src/peft/index.ts';

const SCALE_FIELDS = {
  initScale: numberField({ json: 'init_scale', default: 0, min: -1, minExclusive: true, help: 'The starting value of every output\'s scale offset s.' }),
};
class ScaleConfig extends defineAdapterConfig({ peftType: 'SCALE', className: 'ScaleConfig', fields: SCALE_FIELDS }) {}
type ScaleOptions = PeftConfigOptions & FieldOptions<typeof SCALE_FIELDS>;

/** y = base(x) · (1 + s) per output; merged: W' = diag(1 + s) W, b' = (1 + s) b. */
class ScaleLinear extends AdapterLayer {
  readonly scale_vector = this.registerModule('scale_vector', new Module());
  readonly #scales = new Map<string, Parameter>();

  adapterNames(): string[] { return [...this.#scales.keys()]; }
  adapterParameters(name: string): Parameter[] { const p = this.#scales.get(name); return p ? [p] : []; }
  updateLayer(name: string, config: PeftConfig): void {
    const p = new Parameter(Tensor.full([this.outFeatures], (config as ScaleConfig).initScale));
    this.scale_vector.registerParameter(name, p);
    this.#scales.set(name, p);
  }
  deleteAdapter(name: string): void { this.scale_vector.unregister(name); this.#scales.delete(name); }
  #factor(name: string): Tensor { return this.#scales.get(name)!.value.add(1); }
  protected adaptedForward(x: Tensor, adapters: string[]): Tensor {
    let y = this.base_layer.forward(x);
    for (const n of adapters) y = y.mul(this.#factor(n));
    return y;
  }
  protected mergedWeight(weight: Tensor, name: string): Tensor { return weight.mul(this.#factor(name).unsqueeze(1)); }
  protected async unmergedWeight(weight: Tensor, name: string): Promise<Tensor> { return weight.div(this.#factor(name).unsqueeze(1)); }
}

registerPeftMethod({
  peftType: 'SCALE', name: 'Scale', modelName: 'ScaleModel', configClass: ScaleConfig, prefix: 'scale_',
  createLayer: (base) => new ScaleLinear(base),
  describe: (c) => `init ${(c as ScaleConfig).initScale}`,
  commandLine: [{ name: 'scale', help: 'a per-output scale', flags: { initScale: 'initScale' } }],
});

class TwoLinears extends Module {
  readonly config = { model_type: 'toy' };
  readonly lin0: Linear;
  readonly lin1: Linear;
  constructor() {
    super();
    const generator = new Generator(3);
    this.lin0 = this.registerModule('lin0', new Linear(4, 3, { bias: false, generator }));
    this.lin1 = this.registerModule('lin1', new Linear(3, 2, { generator }));
  }
  forward(x: Tensor): Tensor { return this.lin1.forward(this.lin0.forward(x)); }
}

const X = Tensor.fromData(Float32Array.from({ length: 8 }, (_, i) => (i - 3.5) / 4), [2, 4]);
const floats = async (t: Tensor): Promise<number[]> => [...(await t.floats())];
const close = (a: readonly number[], b: readonly number[], tol: number): void => {
  assert.equal(a.length, b.length);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= tol, `[${i}] ${v} vs ${b[i]} (tolerance ${tol})`));
};

/** The same two layers computed in plain JavaScript from their weights and scales. */
async function independentForward(model: TwoLinears, s0: readonly number[]): Promise<number[]> {
  const w0 = await floats(model.lin0.weight.value);
  const w1 = await floats(model.lin1.weight.value);
  const b1 = await floats(model.lin1.bias!.value);
  const x = await floats(X);
  const out: number[] = [];
  for (let r = 0; r < 2; r++) {
    const h = [0, 1, 2].map((o) => [0, 1, 2, 3].reduce((acc, i) => acc + x[r * 4 + i]! * w0[o * 4 + i]!, 0) * (1 + s0[o]!));
    for (let o = 0; o < 2; o++) out.push(h.reduce((acc, v, i) => acc + v * w1[o * 3 + i]!, 0) + b1[o]!);
  }
  return out;
}

test('a method registered by one record adapts, merges, saves and loads like the built-in ones', async () => {
  const options: ScaleOptions = { targetModules: ['lin0'], initScale: 0.25 };
  const model = new TwoLinears();
  const peft = getPeftModel(model, new ScaleConfig(options), 'default', { warn: () => undefined });
  assert.deepEqual(peft.trainableParameters().map(([n]) => n), ['base_model.model.lin0.scale_vector.default']);
  const s0 = [0.25, -0.5, 1.5];
  peft.trainableParameters()[0]![1].value = Tensor.fromData(Float32Array.from(s0), [3]);
  // float32 against float64 JavaScript over sums of 4 and 3 products: 1e-6
  close(await floats(peft.forward(X)), await independentForward(new TwoLinears(), s0), 1e-6);
  assert.deepEqual([...peft.state().keys()], ['base_model.model.lin0.scale_vector']);

  const dir = await mkdtemp(join(tmpdir(), 'bone-registry-'));
  try {
    await peft.savePretrained(dir);
    const saved = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(saved.peft_type, 'SCALE');
    assert.equal(saved.init_scale, 0.25);
    const again = await PeftModel.fromPretrained(new TwoLinears(), dir, { warn: () => undefined });
    assert.ok(again.peftConfig.get('default') instanceof ScaleConfig);
    close(await floats(again.forward(X)), await floats(peft.forward(X)), 1e-7);
    const merged = await again.mergeAndUnload();
    assert.ok(merged.lin0 instanceof Linear);
    close(await floats(merged.forward(X)), await independentForward(new TwoLinears(), s0), 1e-6);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('its adapter_config.json is read by peft_type, with the declared fields checked', () => {
  const config = configFromJSON({ peft_type: 'SCALE', init_scale: 0.5, target_modules: ['lin0'] }, () => assert.fail('no warning expected'));
  assert.ok(config instanceof ScaleConfig);
  assert.equal(config.initScale, 0.5);
  assert.throws(() => configFromJSON({ peft_type: 'SCALE', init_scale: '0.5' }, () => undefined, 'dir/adapter_config.json'),
    /^PeftError: dir\/adapter_config.json: "init_scale" must be a number > -1, found "0.5" \(a string\) \(init_scale: The starting value/);
  assert.throws(() => configFromJSON({ peft_type: 'SCALE', init_scale: -2 }), /"init_scale" must be a number > -1, found -2/);
  assert.throws(() => configFromJSON({ peft_type: 'NOPE' }, () => undefined, 'x.json'), /x\.json: unsupported peft_type "NOPE"; bone-peft reads .*"SCALE"/);
  assert.equal(peftMethod('SCALE').describe(config), 'init 0.5');
});

test('the command line learns the method and its flag from the record and the field', async () => {
  assert.ok(methodVariants().some((v) => v.variant.name === 'scale'));
  // Imported only now: the command line's option table is built from the registry when it loads.
  const { ADAPTER_OPTIONS, adapterConfigFor, checkMethodFlags } = await import('../../src/cli/method.ts');
  const { helpText } = await import('../../src/cli/args.ts');
  assert.ok((ADAPTER_OPTIONS.method.choices as readonly string[]).includes('scale'));
  const config = adapterConfigFor({ method: 'scale', initScale: 0.125, targets: ['lin0'] });
  assert.ok(config instanceof ScaleConfig);
  assert.equal(config.initScale, 0.125);
  const help = helpText({ name: 'x', summary: 's', usage: '', options: ADAPTER_OPTIONS });
  assert.match(help, /--init-scale X +scale: The starting value of every output's scale offset s\. \(default: 0\)/);
  assert.throws(() => checkMethodFlags('train', { method: 'miss', initScale: 0.5 }), /--init-scale applies only to --method scale, found --method miss/);
});
