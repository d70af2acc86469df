/**
 * The messages between the page (page.ts, the tab's main thread) and the training worker
 * (worker.ts). Training runs in the worker so the page stays responsive; the page only draws.
 */

/** Where the model comes from: the shipped demo model (a URL), or a folder the user picked or dropped. */
export type ModelSource = { kind: 'url'; url: string } | { kind: 'files'; files: { path: string; file: File }[] };

/** Where the data comes from: the shipped demo files, or a JSONL file of the user's. */
export type DataSource = { kind: 'demo'; train: string; eval: string } | { kind: 'file'; file: File };

/** The form's fields, as typed (checked in the worker with the CLI's option declarations). */
export interface TrainSettings {
  method: string;
  r: string;
  steps: string;
  lr: string;
}

export interface BackendChoice {
  executionProvider: 'wasm' | 'webgpu';
  /** 0: the default (all cores when the page is cross-origin isolated, else 1). */
  numThreads: number;
  wasmPaths: string;
}

export type ToWorker =
  | { type: 'init'; backend: BackendChoice }
  | { type: 'load'; model: ModelSource }
  | { type: 'train'; data: DataSource; settings: TrainSettings; snapshotSteps: number[] }
  | { type: 'stop' }
  | { type: 'resume' };

export interface SampleAnswerView {
  prompt: string;
  expected: string;
  continuation: string;
  correct: boolean;
}

export interface EvaluationView {
  accuracy: number | null;
  correct: number;
  total: number;
  bySkill: Record<string, number>;
  samples: SampleAnswerView[];
}

import type { Snapshot } from '../task.ts';

export type { Snapshot } from '../task.ts';

export type FromWorker =
  | { type: 'ready'; methods: string[]; backend: string; numThreads: number; crossOriginIsolated: boolean; ortVersion: string; webgpu: boolean }
  | { type: 'loaded'; description: string; parameters: number; seconds: number }
  | { type: 'status'; text: string }
  | { type: 'evaluation'; phase: 'before' | 'after'; evaluation: EvaluationView }
  | { type: 'start'; totalSteps: number; startStep: number; trainable: number; method: string; trainExamples: number }
  | { type: 'step'; step: number; totalSteps: number; loss: number; lr: number; tokens: number; seconds: number }
  | { type: 'eval'; step: number; loss: number }
  | { type: 'snapshot'; snapshot: Snapshot }
  | { type: 'stopped'; step: number }
  | { type: 'done'; step: number; seconds: number; tokens: number }
  /** The trained adapter as PEFT's two files, and the logits it gives on a probe batch (for the tests' check in Node). */
  | { type: 'adapter'; files: Record<string, Uint8Array>; probe: { inputIds: number[][]; attentionMask: number[][]; logits: Float32Array; shape: number[] } }
  | { type: 'error'; message: string };
