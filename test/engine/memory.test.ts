/**
 * The engine's memory accounting (src/engine/memory.ts) on graphs small enough to work out by
 * hand: which forward values a backward pass reads, and the peak of values alive at once in the
 * emitted order (views share their input's buffer, in-place elementwise ops reuse a dying input,
 * transposes read only by products are folded, constant subgraphs are folded once).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RUNTIME_MEMORY_FACTOR, Tensor, estimateMemory, residentBytes, grad, ops, savedForBackward } from '../../src/engine/index.ts';

const N = 1000; // float32 elements: 4000 bytes per value
const x = (): Tensor => Tensor.fromData(new Float32Array(N), [N]);

test('savedForBackward: the forward values the backward reads, views followed to what they view', () => {
  const a = x();
  const h = a.mul(2);                 // the backward of exp(h) reads its output, not h
  const e = h.exp();
  const s = e.reshape([10, 100]).sigmoid(); // sigmoid's backward reads its output
  const loss = s.sum();
  const saved = savedForBackward([loss], grad(loss, [a]));
  assert.deepEqual(saved.map((v) => v.tensor).sort((p, q) => p.id - q.id), [e, s]);
  assert.deepEqual(saved.map((v) => v.bytes), [4 * N, 4 * N]);
});

test('estimateMemory: a chain reuses dying buffers; a branch keeps its input alive; views and folded transposes cost nothing', () => {
  const a = x();
  // a → b → c → d, each dying at the next: in place, one buffer (the output) is alive at a time.
  const chain = a.mul(3).exp().neg().add(1);
  const est = estimateMemory([chain]);
  assert.equal(est.inputBytes, 4 * N);
  assert.equal(est.peakBytes, 4 * N);
  assert.equal(est.outputBytes, 4 * N);

  // b is read twice, at both ends: b, c and then d (written into c) — two buffers at the peak.
  const b = a.mul(3);
  const branched = b.exp().neg().add(b);
  assert.equal(estimateMemory([branched]).peakBytes, 8 * N);

  // A reshape views b; its reader is the last use of b's buffer.
  const viewed = a.mul(3).reshape([10, 100]).sum();
  assert.equal(estimateMemory([viewed]).peakBytes, 4 * N + 4);

  // x @ Wᵀ: the transpose of the fed weight is folded into the product (FusedMatMul).
  const w = Tensor.fromData(new Float32Array(100 * 100), [100, 100]);
  const y = Tensor.fromData(new Float32Array(10 * 100), [10, 100]).matmul(w.transpose());
  const prod = estimateMemory([y]);
  assert.equal(prod.peakBytes, 4 * 10 * 100);
  assert.equal(prod.inputBytes, 4 * (100 * 100 + 10 * 100));
});

test('estimateMemory: constant subgraphs are folded and counted once however often they are built', () => {
  const mask = (): Tensor => ops.where(ops.arange(0, 50).reshape([50, 1]).le(ops.arange(0, 50).reshape([1, 50])), ops.full([], 0), -1e9);
  const a = Tensor.fromData(new Float32Array(2500), [50, 50]);
  const out = a.add(mask()).add(mask()); // the same mask twice (as every layer builds its own)
  const est = estimateMemory([out]);
  assert.equal(est.constantBytes, 4 * 2500 + 2500 + 8 * 50 + 4); // the float mask, its bool source, the range (reshapes are views), the scalar 0
  assert.equal(est.peakBytes, 4 * 2500);
});

test('residentBytes: the estimate scaled by the measured runtime factor, rounded up to a byte', () => {
  assert.equal(RUNTIME_MEMORY_FACTOR, 1.3);
  assert.equal(residentBytes(0), 0);
  assert.equal(residentBytes(1000), 1300);
  assert.equal(residentBytes(3), 4);
});
