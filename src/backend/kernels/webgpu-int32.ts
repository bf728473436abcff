// int32 buffers on the webgpu backend. tfjs-backend-webgpu 4.22 casts int32 (and bool) to float32 without a copy:
// the float32 tensor keeps the int32 buffer, and each shader declares an input by its buffer's type and converts it
// in the generated getter (`f32(A[i])`). Its transpose programs do not use the getter: they hand the raw i32 element
// to `setOutputAtIndex`, which takes an f32, so the shader does not compile, the pipeline is invalid, the output is
// never written and Chromium soon loses the device. Any transpose of an int32 buffer hits it: tf.transpose of an
// int32 tensor, and the transposes inside tfjs's own kernels (a reduction over a non-last axis transposes first),
// also of float32 tensors cast from int32 (the top-k gate's mask sums a cast one-hot over its middle axis).
// Two replacements: Cast to float32 converts into a float32 buffer, so the tensors the library casts are plain
// float32 everywhere; Transpose of a tensor with an integer buffer runs a program that converts as it copies. The
// transposes tfjs's kernels make internally of genuine int32 tensors stay broken (they do not go through the
// registered kernel): the library reduces float32 tensors only.
import type * as tf from '@tensorflow/tfjs';
import type { KernelOverride } from './types.js';
import type { WgslProgram } from './webgpu-sgmv-wgsl.js';

interface WebgpuBackend {
  tensorMap: { get(dataId: object): { dtype: tf.DataType; values: ArrayLike<number> | null } };
  shouldExecuteOnCPU(inputs: tf.TensorInfo[]): boolean;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
  runWebGPUProgram(program: WgslProgram, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo;
}

const COMPONENTS = ['x', 'y', 'z', 'w', 'u', 'v'];
const WORKGROUP = 64;
const integer = (dtype: tf.DataType) => dtype === 'int32' || dtype === 'bool';

/** A program over the output's elements, `main(index)` given. */
function elementwise(name: string, outputShape: number[], body: string): WgslProgram {
  const size = outputShape.reduce((n, d) => n * d, 1);
  return {
    outputShape,
    shaderKey: name,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.max(Math.ceil(size / WORKGROUP), 1), 1, 1],
    variableNames: ['A'],
    uniforms: '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
    fn main(index : i32) {
      if (index < uniforms.size) {
        ${body}
      }
    }`,
  };
}

/** WGSL type of rank-`rank` coordinates, as tfjs names them (vec5 and vec6 are its structs). */
function coordsType(rank: number): string {
  return rank <= 1 ? 'i32' : rank <= 4 ? `vec${rank}<i32>` : `vec${rank}`;
}

/** out = x with its axes permuted by `perm`, an integer buffer read and written as `outType` (i32 or f32). */
export function integerTransposeProgram(
  shape: readonly number[],
  perm: readonly number[],
  outType: string,
): WgslProgram {
  const rank = shape.length;
  const inCoords: string[] = new Array(rank);
  perm.forEach((p, i) => {
    inCoords[p] = `coords.${COMPONENTS[i]}`; // input coordinate perm[i] is output coordinate i
  });
  const read =
    rank <= 1
      ? 'A[index]'
      : `A[getIndexFromCoords${rank}D(${coordsType(rank)}(${inCoords.join(', ')}), uniforms.aShape)]`;
  return elementwise(
    `moteIntTranspose_${perm.join(',')}_${outType}`,
    perm.map((p) => shape[p]),
    `${rank <= 1 ? '' : 'let coords = getCoordsFromIndex(index);'}
        result[index] = ${outType}(${read});`,
  );
}

let originalCast: tf.KernelConfig | undefined;
let originalTranspose: tf.KernelConfig | undefined;

type CastArgs = { inputs: { x: tf.TensorInfo }; backend: unknown; attrs: { dtype: tf.DataType } };
type TransposeArgs = { inputs: { x: tf.TensorInfo }; backend: unknown; attrs: { perm: number[] } };

function cast(args: CastArgs): tf.TensorInfo {
  const { x } = args.inputs;
  const backend = args.backend as WebgpuBackend;
  if (args.attrs.dtype !== 'float32' || !integer(x.dtype))
    return (originalCast!.kernelFunc as (a: CastArgs) => tf.TensorInfo)(args);
  const stored = backend.tensorMap.get(x.dataId);
  if (stored.values && backend.shouldExecuteOnCPU([x]))
    return backend.makeTensorInfo(x.shape, 'float32', Float32Array.from(stored.values));
  return backend.runWebGPUProgram(
    elementwise('moteIntToFloat', x.shape, 'result[index] = f32(A[index]);'),
    [x],
    'float32',
  );
}

function transpose(args: TransposeArgs): tf.TensorInfo {
  const { x } = args.inputs;
  const backend = args.backend as WebgpuBackend;
  if (!integer(backend.tensorMap.get(x.dataId).dtype) || backend.shouldExecuteOnCPU([x]))
    return (originalTranspose!.kernelFunc as (a: TransposeArgs) => tf.TensorInfo)(args);
  const program = integerTransposeProgram(x.shape, args.attrs.perm, x.dtype === 'float32' ? 'f32' : 'i32');
  return backend.runWebGPUProgram(program, [x], x.dtype);
}

/** The webgpu Cast with int32 / bool → float32 converted into a float32 buffer. */
export const webgpuCast: KernelOverride = {
  kernelName: 'Cast',
  kernelFunc: cast as unknown as tf.KernelFunc,
  keep: (k) => {
    originalCast = k;
  },
};

/** The webgpu Transpose with integer buffers transposed by the program above. */
export const webgpuTranspose: KernelOverride = {
  kernelName: 'Transpose',
  kernelFunc: transpose as unknown as tf.KernelFunc,
  keep: (k) => {
    originalTranspose = k;
  },
};
