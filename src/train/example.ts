// What the trainer trains on: next-token examples, whatever produced them. AlignCoT chains are one producer
// (aligncot/encode.ts adds the step id of every token, which routes it to its step expert, lets step skipping
// hide earlier steps and splits the loss by step type); windows of a plain text corpus are another (text-data.ts,
// `mote pretrain`), with no step ids at all.

/** One training example; every array has length n. */
export interface TrainExample {
  /** Unique within a data set (resume, reports). */
  id: string;
  /** Input ids. */
  ids: Int32Array;
  /** Next-token targets: the ids shifted by one. */
  targets: Int32Array;
  /** 1 where targets[i] is a training target, else 0. */
  lossMask: Float32Array;
  /** Step id (src/steps.ts) of each input token; present for chains, absent for plain text. */
  stepIds?: Int32Array;
}

/** The examples of a run. */
export interface TrainData {
  train: readonly TrainExample[];
  /** Held-out examples for the evaluation loss (optional). */
  eval?: readonly TrainExample[];
}
