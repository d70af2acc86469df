/** The divergence limits (src/train/divergence.ts), each on the facts of a step that crosses it and one that stays just inside. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DIVERGENCE_LIMITS, divergence, type StepFacts } from '../../src/train/divergence.ts';

const healthy: StepFacts = { step: 5, loss: 2.1, gradNorm: 3, first: { loss: 2.5, gradNorm: 4 }, vocabSize: 512, params: [['w', Float32Array.from([0.1, -0.3])]] };

test('a healthy step trips nothing; the first step has no loss or gradient limit', () => {
  assert.equal(divergence(healthy), null);
  assert.equal(divergence({ ...healthy, step: 1, first: undefined, loss: 50, gradNorm: 1e9 }), null);
});

test('the loss limit is 3 × max(first loss, ln V)', () => {
  const limit = 3 * Math.log(512); // 18.7 > 3 × 2.5
  assert.equal(divergence({ ...healthy, loss: limit - 0.01 }), null);
  assert.match(divergence({ ...healthy, loss: limit + 0.01 })!, /^the loss exploded to 18\.72, above 3 × max\(the first step's loss 2\.5, ln\(vocab_size 512\) = 6\.238\) = 18\.71$/);
  // a start worse than uniform raises the limit with it
  assert.equal(divergence({ ...healthy, first: { loss: 9.27, gradNorm: 4 }, loss: 27 }), null);
  assert.match(divergence({ ...healthy, loss: NaN })!, /^the loss became NaN$/);
});

test('the gradient-norm limit is 10⁴ × the first step\'s; a non-finite norm stops too', () => {
  assert.equal(divergence({ ...healthy, gradNorm: 4e4 }), null);
  assert.match(divergence({ ...healthy, gradNorm: 4.1e4 })!, /^the gradient norm exploded to 4\.10e\+4, more than 1\.00e\+4 × the first step's 4$/);
  assert.match(divergence({ ...healthy, gradNorm: Infinity })!, /^the gradient norm became Infinity$/);
  assert.equal(divergence({ ...healthy, gradNorm: null }), null, 'no clipping: no norm to check');
});

test('a trainable value beyond 10³, or NaN, stops the step, naming the tensor', () => {
  assert.equal(DIVERGENCE_LIMITS.maxAbsWeight, 1e3);
  assert.equal(divergence({ ...healthy, params: [['w', Float32Array.from([1000, -1000])]] }), null);
  assert.match(divergence({ ...healthy, params: [['a', Float32Array.from([1])], ['b.miss_block', Float32Array.from([0, -1500])]] })!, /^the update would make b\.miss_block reach \|value\| 1500, above 1000/);
  assert.match(divergence({ ...healthy, params: [['b', Float32Array.from([NaN])]] })!, /^the update would make b reach NaN/);
});
