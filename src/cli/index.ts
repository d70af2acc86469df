/**
 * `bone-peft/cli`: the `bone` commands as functions, for code that wants a command's behaviour
 * without spawning a process (scripts, tests, notebooks): same option checks and messages as the
 * flags, results as objects. Each takes an optional `io` (default: the process's stdout/stderr).
 */
import '../node/install.ts';

export { UsageError } from './args.ts';
export { captureIO, processIO, type CliIO, type TextSink } from './io.ts';
export { METHODS, adapterConfigFor, type Method, type AdapterChoice } from './method.ts';
export { renderTrainReport, writeTrainReport, type TrainReport, type ReportSection, type LossPoint } from './report.ts';
export { runTrain, trainSyntax, type TrainOptions, type TrainResult, type DataSummary } from './commands/train.ts';
export { runGenerate, generateSyntax, type GenerateCommandOptions, type GenerateResult } from './commands/generate.ts';
export { runMerge, mergeSyntax, type MergeOptions, type MergeResult } from './commands/merge.ts';
export { runConvert, convertSyntax, type ConvertOptions, type ConvertResult } from './commands/convert.ts';
export { runExport, exportSyntax, EXPORT_FORMATS, type ExportOptions, type ExportResult, type ExportFormat } from './commands/export.ts';
export { runInspect, inspectSyntax, type InspectOptions, type Inspection, type ModelInspection, type AdapterInspection, type TensorInfo } from './commands/inspect.ts';
export { runBench, benchSyntax, SMOLLM2_135M_CONFIG, type BenchOptions, type BenchResult } from './commands/bench.ts';
export { main, COMMANDS } from './main.ts';
