// Activation checkpointing per block (Chen et al. 2016, "Training Deep Nets with Sublinear Memory Cost"; PyTorch's
// torch.utils.checkpoint): a block's forward runs off the tape and keeps only its input, and the backward runs the
// block's forward again on a tape of its own to take the block's gradients there. A step then holds every
// block's input plus one block's activations at a time, instead of every block's activations, for one more
// forward of the blocks per step.
//
// The block is a tfjs customGrad node whose inputs are x and the block's trainable variables, so it lies on the
// path from every trainable variable to the loss even when x does not (no trainable embedding rows). A variable
// the recomputed forward does not reach (one the block holds but this forward does not use) gets a zero from the
// node, as customGrad wants a tensor per input; `unreached` records it, and `batchGradients` drops its gradient so
// that the result is the one without checkpointing: no gradient rather than a zero one (AdamW treats them
// differently).
import * as tf from '@tensorflow/tfjs';
import type { BlockCall, BlockRunner } from '../model/transformer.js';
import { leanGradients } from './backprop.js';

/** A block runner that checkpoints every block, and the variables no block's recompute reached. */
export interface Checkpointing {
  runBlock: BlockRunner;
  unreached: Set<tf.Variable>;
}

export function checkpointBlocks(): Checkpointing {
  const unreached = new Set<tf.Variable>();
  const runBlock: BlockRunner = (call: BlockCall) => {
    const vars = call.variables.filter((v) => v.trainable);
    const node = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor2D;
      const save = args[args.length - 1] as tf.GradSaveFunc;
      save([x, call.mask]); // what the recompute needs; the mask is the forward's, freed with it otherwise
      return {
        value: call.apply(x, call.mask, false), // (N, d), off the tape: its activations go when it returns
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [x0, mask] = saved;
          const { grads } = leanGradients(
            () => tf.sum(tf.mul(call.apply(x0 as tf.Tensor2D, mask, true), dy as tf.Tensor)) as tf.Scalar,
            [x0, ...vars],
          );
          return grads.map((g, i) => {
            if (g) return g;
            if (i > 0) unreached.add(vars[i - 1]);
            return tf.zerosLike(i === 0 ? x0 : vars[i - 1]);
          });
        },
      };
    });
    return node(call.x, ...vars) as tf.Tensor2D;
  };
  return { runBlock, unreached };
}
