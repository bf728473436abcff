// Public surface of the experts: configuration, routing, the MoTE linear, routers, kernels, merge and attach.

export { type AttachedExperts, attachExperts, detachExperts, getExperts, setMixKernel } from './attach.js';
export {
  DEFAULT_EXPERT_CONFIG,
  EXPERT_KINDS,
  EXPERT_PRESETS,
  type ExpertConfig,
  type ExpertKind,
  type ExpertPreset,
  MIX_KERNELS,
  type MixKernelName,
  resolveExpertConfig,
  type StepExpert,
} from './config.js';
export { type CalibrateOptions, calibrateMixKernel } from './kernels/calibrate.js';
export {
  calibrationOf,
  type MixCalibration,
  type MixChoice,
  rememberCalibration,
  type SegmentedImpl,
} from './kernels/choice.js';
export { AUTO_KERNEL, MIX_KERNEL_IMPLS, mixKernel } from './kernels/index.js';
export { planFromChoices, planFromStepIds, type Segment, SegmentPlan } from './kernels/plan.js';
export type { MixInput, MixKernel, Routing } from './kernels/types.js';
export {
  adapterKind,
  auxLossWeight,
  batchRoute,
  checkStageExperts,
  describeExperts,
  expertParameterCount,
  mergeable,
  PEFT_KINDS,
  type RoutableBatch,
  routedExpertNames,
  shardable,
  stageExpert,
  stageRoute,
} from './kinds.js';
export { initLoraFactors, kaimingUniform, type LoraFactors, loraScaling } from './lora.js';
export { mergeAll, mergeExperts, unmergeExperts } from './merge.js';
export { MergedWeightCache, mergedWeight } from './merged-weights.js';
export { MoteLinear } from './mote-linear.js';
export { type Router, StepRouter } from './router.js';
export {
  buildStepRoute,
  decodeRoute,
  learnedRoute,
  ROUTE_KEY,
  Route,
  type RouteOptions,
  routeOf,
  type StepRouteOptions,
  type TokenStage,
  withRoute,
} from './routing.js';
export { balanceLoss, switchBalanceLoss, TopKRouter, topKMask } from './top-k-router.js';
