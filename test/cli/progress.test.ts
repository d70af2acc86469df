import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, formatNumber } from '../../src/cli/io.ts';
import { TrainingProgress, progressMode } from '../../src/cli/progress.ts';
import type { TrainerEvent } from '../../src/train/trainer.ts';

/** The terminal sequence that erases the current line before a redraw. */
const ERASE_LINE = '\u001b[2K';

function sink(isTTY: boolean): { write: (t: string) => void; isTTY: boolean; columns: number; text: () => string } {
  const parts: string[] = [];
  return { write: (t) => { parts.push(t); }, isTTY, columns: 120, text: () => parts.join('') };
}

/** A 10-step run: the first step takes 5 s (compiling), the others 1 s with 100 tokens each. */
function run(progress: TrainingProgress, clock: { t: number }): void {
  progress.onEvent({ type: 'start', totalSteps: 10, startStep: 0, trainable: 10, resumedFrom: null });
  for (let step = 1; step <= 10; step++) {
    const seconds = step === 1 ? 5 : 1;
    clock.t += seconds * 1000;
    const e: TrainerEvent = { type: 'step', step, totalSteps: 10, loss: 3 / step, lr: 1e-4, gradNorm: 1, tokens: 100, seconds, tokensPerSecond: 100 / seconds };
    progress.onEvent(e);
    if (step === 5) progress.onEvent({ type: 'eval', step, evalLoss: 0.75 });
    if (step === 5) progress.onEvent({ type: 'checkpoint', step, dir: 'out/checkpoint-5' });
  }
  progress.onEvent({ type: 'end', step: 10, reason: 'completed' });
}

test('mode: quiet wins, else a terminal redraws and anything else gets plain lines', () => {
  assert.equal(progressMode({ write: () => undefined, isTTY: true }, true), 'quiet');
  assert.equal(progressMode({ write: () => undefined, isTTY: true }, false), 'tty');
  assert.equal(progressMode({ write: () => undefined }, false), 'lines');
});

test('without a terminal: a plain line every logEvery steps and at the end, with loss, tokens/s and ETA', () => {
  const out = sink(false);
  const clock = { t: 0 };
  const progress = new TrainingProgress(out, { mode: 'lines', logEvery: 4, now: () => clock.t });
  run(progress, clock);
  const lines = out.text().trimEnd().split('\n');
  assert.deepEqual(lines, [
    // step 4: the compile step is left out of the rate: 3 × 1 s → 100 tok/s, 6 steps × 1 s left
    'step  4/10 | loss 0.75 | 100 tok/s | ETA 6s | 8s elapsed',
    'step 5: eval loss 0.75',
    'step 5: checkpoint written to out/checkpoint-5',
    'step  8/10 | loss 0.375 | eval 0.75 | 100 tok/s | ETA 2s | 12s elapsed',
    'step 10/10 | loss 0.3 | eval 0.75 | 100 tok/s | 14s elapsed',
  ]);
  assert.ok(!out.text().includes('\r') && !out.text().includes(ERASE_LINE));
});

test('on a terminal the line is redrawn in place, and messages go above it', () => {
  const out = sink(true);
  const clock = { t: 0 };
  const progress = new TrainingProgress(out, { mode: 'tty', logEvery: 4, now: () => clock.t, redrawInterval: 0 });
  run(progress, clock);
  const text = out.text();
  const redraws = text.split(`\r${ERASE_LINE}`).slice(1);
  assert.ok(redraws.filter((r) => /^step +\d+\/10 \| loss/.test(r)).length >= 10, 'one redraw per step at least');
  assert.ok(redraws.includes('step 5: eval loss 0.75\n'), 'the eval message is printed over the progress line');
  assert.ok(text.endsWith('\n'), 'the last line is left on screen with a newline after it');
});

test('quiet prints nothing', () => {
  const out = sink(true);
  const clock = { t: 0 };
  run(new TrainingProgress(out, { mode: 'quiet', logEvery: 1, now: () => clock.t }), clock);
  assert.equal(out.text(), '');
});

test('durations and numbers', () => {
  assert.equal(formatDuration(42.4), '42s');
  assert.equal(formatDuration(185), '3m05s');
  assert.equal(formatDuration(8040), '2h14m');
  assert.equal(formatDuration(NaN), '?');
  assert.equal(formatNumber(2.345678), '2.346');
  assert.equal(formatNumber(0.00012), '1.20e-4');
});
