/** The module tree: registration, paths, parameters, state dicts, replacing submodules, modes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../../src/engine/index.ts';
import { Linear, Module, ModuleError, ModuleList, Parameter, RMSNorm, type TensorModule } from '../../src/nn/index.ts';

class Block extends Module {
  proj: TensorModule;
  norm: RMSNorm;
  constructor() {
    super();
    this.proj = this.registerModule('proj', new Linear(4, 3));
    this.norm = this.registerModule('norm', new RMSNorm(3));
  }
  forward(x: Tensor): Tensor { return this.norm.forward(this.proj.forward(x)); }
}

class Net extends Module {
  scale: Parameter;
  blocks: ModuleList<Block>;
  head: Linear;
  constructor() {
    super();
    this.scale = this.registerParameter('scale', new Parameter(Tensor.ones([1])));
    this.blocks = this.registerModule('blocks', new ModuleList([new Block(), new Block()]));
    this.head = this.registerModule('head', new Linear(3, 2, { bias: false }));
  }
}

test('namedModules and namedParameters give torch\'s paths and order', () => {
  const net = new Net();
  assert.deepEqual(net.namedModules().map(([n]) => n), [
    '', 'blocks', 'blocks.0', 'blocks.0.proj', 'blocks.0.norm', 'blocks.1', 'blocks.1.proj', 'blocks.1.norm', 'head',
  ]);
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    'scale', 'blocks.0.proj.weight', 'blocks.0.proj.bias', 'blocks.0.norm.weight',
    'blocks.1.proj.weight', 'blocks.1.proj.bias', 'blocks.1.norm.weight', 'head.weight',
  ]);
  assert.deepEqual(net.namedParameters({ recurse: false }).map(([n]) => n), ['scale']);
  assert.deepEqual(net.blocks.get(1).namedParameters({ prefix: 'blocks.1' }).map(([n]) => n)[0], 'blocks.1.proj.weight');
  assert.equal(net.numParameters(), 1 + 2 * (12 + 3 + 3) + 6);
  assert.deepEqual([...net.stateDict().keys()], net.namedParameters().map(([n]) => n));
});

test('getSubmodule and getParameter name what is missing', () => {
  const net = new Net();
  assert.equal(net.getSubmodule('blocks.1.norm'), net.blocks.get(1).norm);
  assert.equal(net.getSubmodule(''), net);
  assert.throws(() => net.getSubmodule('blocks.0.attn'), /no submodule "blocks\.0\.attn": "blocks\.0" \(Block\) has no child "attn" \(children: proj, norm\)/);
  assert.throws(() => net.getSubmodule('body'), /the root module \(Net\) has no child "body"/);
  assert.equal(net.getParameter('head.weight'), net.head.weight);
  assert.throws(() => net.getParameter('head.bias'), /no parameter "head\.bias" \(Linear has parameters weight\)/);
});

test('setSubmodule replaces the registry entry, the parent field and ModuleList items', () => {
  const net = new Net();
  const wrapped = new Linear(4, 3);
  net.setSubmodule('blocks.0.proj', wrapped);
  assert.equal(net.blocks.get(0).proj, wrapped);
  assert.equal(net.getSubmodule('blocks.0.proj'), wrapped);
  const block = new Block();
  net.setSubmodule('blocks.1', block);
  assert.equal(net.blocks.get(1), block);
  assert.equal([...net.blocks][1], block);
  assert.throws(() => net.setSubmodule('blocks.0.mlp', wrapped), /no submodule "blocks\.0\.mlp" to replace \(Block has children proj, norm\)/);
  assert.throws(() => net.setSubmodule('', wrapped), /cannot replace the root/);
});

test('registration refuses dotted names and clashes', () => {
  const m = new Module();
  assert.throws(() => m.registerModule('a.b', new Module()), ModuleError);
  m.registerParameter('w', new Parameter(Tensor.zeros([1])));
  assert.throws(() => m.registerModule('w', new Module()), /already a parameter/);
  m.registerModule('sub', new Module());
  assert.throws(() => m.registerParameter('sub', null), /already a submodule/);
});

test('loadStateDict loads by name, strict by default, atomic on shape errors', () => {
  const a = new Net();
  const b = new Net();
  b.loadStateDict(a.stateDict());
  for (const [name, t] of b.stateDict()) assert.equal(t, a.stateDict().get(name));
  const partial = new Map([...a.stateDict()].filter(([k]) => k !== 'scale'));
  assert.throws(() => b.loadStateDict(partial), /missing keys \(1\): scale/);
  const bad = new Map(a.stateDict());
  bad.set('head.weight', Tensor.zeros([3, 2]));
  const old = b.head.weight.value;
  assert.throws(() => b.loadStateDict(bad), /head\.weight: expected shape \[2, 3\], found \[3, 2\]/);
  assert.equal(b.head.weight.value, old);
});

test('Parameter keeps its shape and dtype when its tensor is replaced', () => {
  const p = new Parameter(Tensor.zeros([2, 3]));
  p.value = Tensor.ones([2, 3]);
  assert.throws(() => { p.value = Tensor.ones([3, 2]); }, /expected a float32 tensor of shape \[2, 3\], found float32 \[3, 2\]/);
  assert.equal(p.requiresGrad, true);
  assert.equal(new Parameter(Tensor.zeros([1]), { requiresGrad: false }).requiresGrad, false);
});

test('train/eval and requiresGrad reach every module and parameter; toString prints the tree', () => {
  const net = new Net().eval();
  assert.ok(net.modules().every((m) => !m.training));
  net.blocks.train();
  assert.ok(net.blocks.get(0).proj.training && !net.training);
  net.requiresGrad(false);
  assert.equal(net.numParameters({ trainableOnly: true }), 0);
  assert.match(net.toString(), /\(blocks\): ModuleList\(\n {4}\(0\): Block\(\n {6}\(proj\): Linear\(in_features=4, out_features=3, bias=true\)/);
});
