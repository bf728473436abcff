// mote-tfjs: the public API (exports only). Everything of the browser entry (browser.ts), and what needs Node:
// loaders and writers that take paths, worker threads, checkpoints and run directories, chain building, the
// ablation. Names the browser entry also has are replaced here by their Node versions (paths, worker threads).

// ---- Node only
export * from './aligncot/build/index.js';
export { loadChains } from './aligncot/schema-node.js';
// ---- Node versions of browser names
export { type SelectBackendOptions, selectBackend } from './backend/select-node.js';
export * from './browser.js';
export { EXAMPLE_EVAL_PROMPTS, loadEvalPrompts } from './eval/prompts-node.js';
export { type ReportPaths, writeReports } from './eval/report-node.js';
export { type AblationOptions, type AblationRun, runAblation } from './experiment/ablation.js';
export { writeAblation } from './experiment/ablation-report.js';
export { directoryFiles } from './io/files-node.js';
export {
  loadHfLlama,
  readHfConfig,
  readHfLlama,
  type SaveHfOptions,
  saveHfLlama,
} from './io/hf-llama-node.js';
export { saveTokenizerFiles } from './io/hf-tokenizer-files-node.js';
export { loadLlama2c, saveLlama2c } from './io/llama2c-node.js';
export { type LoadModelOptions, loadModel } from './io/load-node.js';
export { importPeftAdapters } from './io/peft-import-node.js';
export { exportPeftAdapters, type PeftExportOptions, type PeftExportSummary } from './io/peft-node.js';
export { SafetensorsFile } from './io/safetensors-file.js';
export { readSafetensors, writeSafetensors } from './io/safetensors-node.js';
export * from './run/index.js';
export { loadLlama2cTokenizer } from './tokenizer/llama2c-tokenizer-node.js';
export { loadTokenizer, saveHfTokenizer } from './tokenizer/load-tokenizer-node.js';
export {
  CheckpointMismatchError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  readCheckpoint,
  readCheckpointState,
  saveCheckpoint,
} from './train/checkpoint.js';
export { type FileCheckpointerOptions, fileCheckpointer } from './train/checkpointer.js';
export {
  AUTO_MIN_STEP_WORK,
  resolveWorkers,
  type WorkersChoice,
  type Workload,
} from './train/parallel/auto.js';
export { GradientPool, type ParallelOptions, WorkerFailedError } from './train/parallel/pool.js';
export { readMetricsJsonl } from './train/plot-node.js';
export {
  type CorpusStats,
  PRETRAIN_MODEL,
  PRETRAIN_TRAIN,
  type PreparedCorpus,
  type PretrainConfig,
  type PretrainConfigInput,
  type PretrainEvent,
  type PretrainOptions,
  type PretrainResult,
  type PretrainRunOptions,
  prepareCorpus,
  pretrain,
  pretrainModel,
  resolvePretrainConfig,
  type TokenizerTrainConfig,
} from './train/pretrain.js';
export { lastGoodCheckpoint, type ResumePoint, resumePoint, setAsideNewer } from './train/resume.js';
export { readCorpus } from './train/text-data-node.js';
export { train } from './train/trainer-node.js';
