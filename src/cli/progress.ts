/**
 * The training progress display: step/total, loss, tokens per second and time left.
 *
 * - `tty`: one line redrawn in place (carriage return + erase line), throttled so that a fast run
 *   does not spend its time repainting; messages (checkpoints, evaluations) are printed above it.
 * - `lines`: no terminal (CI, a log file): a plain line every `logEvery` steps and at the end, so
 *   logs stay readable and short.
 * - `quiet`: nothing; the command prints only its summary.
 */
import type { TrainerEvent } from '../train/trainer.ts';
import { formatCount, formatDuration, formatNumber, type TextSink } from './io.ts';

export type ProgressMode = 'tty' | 'lines' | 'quiet';

export function progressMode(sink: TextSink, quiet: boolean): ProgressMode {
  if (quiet) return 'quiet';
  return sink.isTTY ? 'tty' : 'lines';
}

export interface ProgressOptions {
  mode: ProgressMode;
  /** In `lines` mode, print every N steps (0: only evaluations, checkpoints and the end). */
  logEvery: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
  /** Minimum milliseconds between two redraws in `tty` mode. */
  redrawInterval?: number;
}

/** Steps whose durations estimate the rate: recent ones, since the first step of a run includes compiling its graph. */
const RATE_WINDOW = 20;

export class TrainingProgress {
  readonly #sink: TextSink;
  readonly #opts: Required<ProgressOptions>;
  #totalSteps = 0;
  #startStep = 0;
  #startedAt = 0;
  #recent: { seconds: number; tokens: number }[] = [];
  #lastLoss: number | null = null;
  #lastEval: number | null = null;
  #step = 0;
  #lineShown = false;
  #lastDraw = -Infinity;

  constructor(sink: TextSink, opts: ProgressOptions) {
    this.#sink = sink;
    this.#opts = { now: () => performance.now(), redrawInterval: 100, ...opts };
  }

  onEvent(e: TrainerEvent): void {
    switch (e.type) {
      case 'start':
        this.#totalSteps = e.totalSteps;
        this.#startStep = e.startStep;
        this.#step = e.startStep;
        this.#startedAt = this.#opts.now();
        if (e.resumedFrom) this.log(`resuming from ${e.resumedFrom} (step ${e.startStep} of ${e.totalSteps})`);
        return;
      case 'step': {
        this.#step = e.step;
        this.#lastLoss = e.loss;
        this.#recent.push({ seconds: e.seconds, tokens: e.tokens });
        if (this.#recent.length > RATE_WINDOW) this.#recent.shift();
        const last = e.step === e.totalSteps;
        if (this.#opts.mode === 'tty') this.#draw(last);
        else if (this.#opts.mode === 'lines' && ((this.#opts.logEvery > 0 && e.step % this.#opts.logEvery === 0) || last)) this.#sink.write(`${this.statusLine()}\n`);
        return;
      }
      case 'eval':
        this.#lastEval = e.evalLoss;
        this.log(`step ${e.step}: eval loss ${formatNumber(e.evalLoss)}`);
        return;
      case 'checkpoint':
        this.log(`step ${e.step}: checkpoint written to ${e.dir}`);
        return;
      case 'end':
        this.finish();
        if (e.reason === 'interrupted') this.log(`interrupted at step ${e.step}`);
        return;
    }
  }

  /** A message above the progress line (nothing in quiet mode). */
  log(message: string): void {
    if (this.#opts.mode === 'quiet') return;
    if (this.#opts.mode === 'tty' && this.#lineShown) {
      this.#sink.write(`\r\x1b[2K${message}\n`);
      this.#draw(true);
    } else {
      this.#sink.write(`${message}\n`);
    }
  }

  /** Leave the last progress line on screen and move below it. */
  finish(): void {
    if (this.#opts.mode === 'tty' && this.#lineShown) {
      this.#draw(true);
      this.#sink.write('\n');
      this.#lineShown = false;
    }
  }

  /** Tokens per second over the recent steps. */
  tokensPerSecond(): number {
    const steps = this.#rateSteps();
    const seconds = steps.reduce((s, r) => s + r.seconds, 0);
    return seconds > 0 ? steps.reduce((s, r) => s + r.tokens, 0) / seconds : NaN;
  }

  /** Estimated seconds to the last step. */
  secondsLeft(): number {
    const steps = this.#rateSteps();
    if (steps.length === 0) return NaN;
    const perStep = steps.reduce((s, r) => s + r.seconds, 0) / steps.length;
    return perStep * (this.#totalSteps - this.#step);
  }

  statusLine(): string {
    const width = String(this.#totalSteps).length;
    const parts = [`step ${String(this.#step).padStart(width)}/${this.#totalSteps}`];
    if (this.#lastLoss !== null) parts.push(`loss ${formatNumber(this.#lastLoss)}`);
    if (this.#lastEval !== null) parts.push(`eval ${formatNumber(this.#lastEval)}`);
    const rate = this.tokensPerSecond();
    if (Number.isFinite(rate)) parts.push(`${formatCount(rate)} tok/s`);
    if (this.#step < this.#totalSteps) parts.push(`ETA ${formatDuration(this.secondsLeft())}`);
    // Last: the first thing cut when a narrow terminal truncates the line.
    parts.push(`${formatDuration((this.#opts.now() - this.#startedAt) / 1000)} elapsed`);
    return parts.join(' | ');
  }

  #rateSteps(): { seconds: number; tokens: number }[] {
    // Drop the run's first step (graph compilation) once there are others to go by.
    const ranSteps = this.#step - this.#startStep;
    return ranSteps <= this.#recent.length && this.#recent.length > 1 ? this.#recent.slice(1) : this.#recent;
  }

  #draw(force: boolean): void {
    const now = this.#opts.now();
    if (!force && now - this.#lastDraw < this.#opts.redrawInterval) return;
    this.#lastDraw = now;
    // A line wider than the terminal wraps, and \r then redraws only its last row. Some terminals
    // (and `script`) report 0 columns: then the width is unknown and the line is left whole.
    const columns = this.#sink.columns ?? 0;
    let line = this.statusLine();
    if (columns > 20 && line.length >= columns) line = line.slice(0, columns - 1);
    this.#sink.write(`\r\x1b[2K${line}`);
    this.#lineShown = true;
  }
}
