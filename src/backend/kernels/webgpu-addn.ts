// AddN on the webgpu backend with many inputs. tfjs-backend-webgpu 4.22 sums every input in one shader, one storage
// binding each; past the device's limit of storage buffers per shader stage (8 by default: the output and 7 inputs)
// the pipeline is invalid and the output is never written, without an error. A global gradient norm sums one scalar
// per trainable tensor (train/clip.ts), dozens of them. Here the inputs are summed in groups that fit, then the
// partial sums (tfjs's own Concat splits its inputs the same way).
import type * as tf from '@tensorflow/tfjs';
import type { KernelOverride } from './types.js';

interface WebgpuBackend {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): void;
}

let original: tf.KernelConfig | undefined;

type Args = { inputs: tf.TensorInfo[]; backend: unknown; attrs: object };

function addN(args: Args): tf.TensorInfo {
  const run = (inputs: tf.TensorInfo[]) =>
    (original!.kernelFunc as unknown as (a: Args) => tf.TensorInfo)({ ...args, inputs });
  const backend = args.backend as WebgpuBackend;
  const fit = backend.device.limits.maxStorageBuffersPerShaderStage - 1; // one binding is the output
  let inputs = Object.values(args.inputs) as tf.TensorInfo[];
  if (inputs.length <= fit) return run(inputs);
  const made: tf.TensorInfo[] = [];
  while (inputs.length > fit) {
    const sums: tf.TensorInfo[] = [];
    for (let i = 0; i < inputs.length; i += fit) {
      const group = inputs.slice(i, i + fit);
      if (group.length === 1) sums.push(group[0]);
      else {
        const s = run(group);
        made.push(s);
        sums.push(s);
      }
    }
    inputs = sums;
  }
  const out = run(inputs);
  for (const t of made) backend.disposeData(t.dataId);
  return out;
}

/** The webgpu AddN, summing in groups that fit the device's storage bindings. */
export const webgpuAddN: KernelOverride = {
  kernelName: 'AddN',
  kernelFunc: addN as unknown as tf.KernelFunc,
  keep: (k) => {
    original = k;
  },
};
