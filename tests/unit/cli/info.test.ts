// `mote info <dir>` on a Hugging Face directory: described from config.json alone (no weights in the fixture).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/index.js';

const exec = promisify(execFile);
const mote = (...args: string[]) =>
  exec(process.execPath, ['--import', 'tsx', `${ROOT}src/cli/main.ts`, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
  });

describe('mote info <dir>', () => {
  it('prints the family, the parameter count and the memory per backend of Qwen2.5-0.5B', async () => {
    const dir = `${ROOT}../shared/models/hf/qwen2.5-0.5b-instruct`;
    const { stdout } = await mote('info', dir, '--backend', 'cpu', '--seq-len', '256');
    const info = JSON.parse(stdout);
    expect(info.model).toMatchObject({
      family: 'qwen2',
      architecture: 'Qwen2ForCausalLM',
      parameters: 494_032_768,
      biases: ['q', 'k', 'v'],
      headDim: 64,
    });
    for (const b of ['wasm', 'cpu', 'tensorflow']) {
      expect(info.memory[b].inferenceGiB).toBeGreaterThan(1.8); // at least the float32 weights (1.84 GiB)
      expect(info.memory[b].trainingGiB).toBeGreaterThan(info.memory[b].inferenceGiB);
    }
    expect(info.memory.wasm).toMatchObject({ limitGiB: 4, limit: 'wasm heap' });
    // the frozen weights in one copy (no transposed copies); MoTE training at seq 256 fits the wasm heap
    expect(info.memory.wasm.trainingParts.weights).toBeCloseTo((494_032_768 * 4) / 1024 ** 3, 2);
    expect(info.memory.wasm.trainingParts.transposed).toBeUndefined();
    expect(info.memory.wasm.trainingFits).toBe(true);
    expect(info.memory.wasm.checkpointedTrainingGiB).toBeLessThan(info.memory.wasm.trainingGiB);
    expect(info.memory.estimate).toMatch(/1×256 tokens/);
  });

  it('at seq 1024 Qwen2.5-0.5B training fits the wasm heap only with activation checkpointing', async () => {
    const dir = `${ROOT}../shared/models/hf/qwen2.5-0.5b-instruct`;
    const { stdout } = await mote('info', dir, '--backend', 'cpu', '--seq-len', '1024');
    const { wasm } = JSON.parse(stdout).memory;
    expect(wasm).toMatchObject({ trainingFits: false, checkpointedTrainingFits: true });
  });
});
