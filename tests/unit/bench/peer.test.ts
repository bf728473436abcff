// bench:peer's python discovery and skip path with stub pythons on a temporary PATH, the parsing of the peer
// script's output, and (only where a python imports torch) a tiny real run of train_peer.py.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  findTorchPython,
  parsePeerOutput,
  peerRatio,
  runPeerBench,
  runPeerScript,
  scalePeerArgs,
  scalePeerRatio,
} from '../../../benchmarks/peer/peer.js';

let dir: string;
/** A PATH of one directory: `good` imports "torch", `bad` fails like a python without it. */
let env: NodeJS.ProcessEnv;

async function stub(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mote-peer-'));
  await stub('good', `echo '{"torch": "9.9.9"}'`);
  await stub(
    'bad',
    `echo 'Traceback (most recent call last):' >&2; echo "ModuleNotFoundError: No module named 'torch'" >&2; exit 1`,
  );
  env = { PATH: dir };
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('findTorchPython', () => {
  it('takes the first candidate that imports torch, looked up on PATH', async () => {
    const found = await findTorchPython({ env, candidates: ['bad', 'good'] });
    expect(found).toEqual({ ok: true, command: 'good', torch: '9.9.9' });
  });

  it('says why each candidate would not do', async () => {
    const found = await findTorchPython({ env, candidates: ['bad', 'missing', '/nonexistent/python3'] });
    expect(found).toEqual({
      ok: false,
      tried: [
        { command: 'bad', reason: "ModuleNotFoundError: No module named 'torch'" },
        { command: 'missing', reason: 'not found' },
        { command: '/nonexistent/python3', reason: 'not found' },
      ],
    });
  });

  it('MOTE_PYTHON is the only candidate when set', async () => {
    const found = await findTorchPython({ env: { ...env, MOTE_PYTHON: 'bad' }, candidates: ['good'] });
    expect(found).toMatchObject({ ok: false, tried: [{ command: 'bad' }] });
    const ok = await findTorchPython({ env: { ...env, MOTE_PYTHON: join(dir, 'good') } });
    expect(ok).toMatchObject({ ok: true, torch: '9.9.9' });
  });
});

describe('runPeerBench without torch', () => {
  it('emits one skip record and runs nothing else', async () => {
    const out: Record<string, unknown>[] = [];
    const log: string[] = [];
    await runPeerBench({
      env,
      candidates: ['bad', '/nonexistent/python3'],
      emit: (r) => out.push(r as Record<string, unknown>),
      log: (l) => log.push(l),
    });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ bench: 'train-peer', skipped: true });
    expect(out[0].reason).toMatch(/no python with torch found \(set MOTE_PYTHON.*bad: ModuleNotFoundError/);
    expect(out[0].reason).toContain('/nonexistent/python3: not found');
    expect(log.join('\n')).toContain('bench:peer skipped');
  });
});

describe('parsePeerOutput and peerRatio', () => {
  const mote = {
    bench: 'train-peer',
    experts: 'mote',
    tokensPerSec: 100,
    msPerStep: 20480,
    threads: 1,
    matmulGflops: 4,
  };
  const lora = { bench: 'train-peer', experts: 'lora', tokensPerSec: 125, msPerStep: 16384, threads: 1 };

  it('keeps the train-peer records, skipping other lines', () => {
    const stdout = [
      'some warning from torch',
      JSON.stringify(mote),
      '{"bench": "other"}',
      '{not json',
      JSON.stringify(lora),
      JSON.stringify({ bench: 'train-peer-experts-ratio', moteOverLora: 1.25 }),
      '',
    ].join('\n');
    expect(parsePeerOutput(stdout)).toEqual([
      mote,
      lora,
      { bench: 'train-peer-experts-ratio', moteOverLora: 1.25 },
    ]);
  });

  it('throws, quoting the output, when no record is there', () => {
    expect(() => parsePeerOutput('Traceback …\nRuntimeError: x')).toThrow(
      /no train-peer record.*\n.*Traceback/s,
    );
  });

  it('ratio: our tokens/s over PyTorch’s, per variant', () => {
    const ours = [
      {
        bench: 'train',
        experts: 'mote',
        tokensPerSec: 50,
        msPerStep: 40960,
        matmulGflops: 20,
        mfu: 0.05,
        gflopPerStep: 41,
      },
      { bench: 'train', experts: 'lora', tokensPerSec: 250, msPerStep: 8192 },
    ];
    const r = peerRatio(ours, [mote, lora], { backend: 'wasm', device: 'cpu' });
    expect(r).toMatchObject({
      bench: 'train-peer-ratio',
      backend: 'wasm',
      device: 'cpu',
      oursOverPytorch: 0.5,
      loraOursOverPytorch: 2,
      moteOverLora: { ours: 5, pytorch: 1.25 },
      matmulGflops: { ours: 20, pytorch: 4 },
      mfu: { ours: 0.05, pytorch: 0.5005 }, // 41 GFLOP in 20.48 s = 2.002 GFLOP/s, over 4
      pytorchThreads: 1,
    });
    expect(r).not.toHaveProperty('oursWorkers2OverPytorch');
    const wide = {
      ours: { bench: 'parallel-ratio', tokensPerSec2: 90 },
      peer: [{ ...mote, threads: 2, tokensPerSec: 180 }],
    };
    const both = peerRatio(ours, [mote, lora], { backend: 'wasm', device: 'cpu' }, wide);
    expect(both).toMatchObject({ oursWorkers2OverPytorch: 0.9, oursWorkers2OverPytorchThreads2: 0.5 });
  });
});

const torch = await findTorchPython();
describe.skipIf(!torch.ok)('train_peer.py (a python with torch is here)', () => {
  it('tiny shapes print a valid record per variant and the MoTE/LoRA ratio', async () => {
    const python = (torch as { command: string }).command;
    const records = await runPeerScript(python, {
      dim: 32,
      layers: 1,
      seq: 16,
      batch: 2,
      steps: 1,
      mix: 'gather',
    });
    const [mote, lora, ratio] = records;
    for (const [r, experts] of [
      [mote, 'mote'],
      [lora, 'lora'],
    ] as const) {
      expect(r).toMatchObject({
        bench: 'train-peer',
        framework: 'pytorch',
        experts,
        threads: 1,
        dim: 32,
        seq: 16,
      });
      expect(r.version).toEqual(expect.any(String));
      expect(r.tokensPerSec).toBeGreaterThan(0);
      expect(r.msPerStep).toBeGreaterThan(0);
      expect(Math.abs((r.loss as number) - Math.log(512))).toBeLessThan(0.5); // random model, vocab 512
    }
    expect(mote.trainableParams).toBe(4 * (lora.trainableParams as number)); // 3 step experts + shared
    expect(ratio).toMatchObject({ bench: 'train-peer-experts-ratio', moteOverLora: expect.any(Number) });
  }, 60_000);
});

describe('scalePeerArgs', () => {
  it('gives train_peer.py the scale shapes; Qwen2.5 gets its q/k/v biases as a bare flag', () => {
    expect(scalePeerArgs('smollm2-135m', 512)).toEqual({
      name: 'smollm2-135m',
      dim: 576,
      layers: 30,
      heads: 9,
      'kv-heads': 3,
      hidden: 1536,
      vocab: 49152,
      seq: 512,
      batch: 1,
      'qkv-bias': false,
    });
    expect(scalePeerArgs('qwen2.5-0.5b', 256)).toMatchObject({
      dim: 896,
      'kv-heads': 2,
      vocab: 151936,
      'qkv-bias': true,
    });
  });
});

describe('scalePeerRatio', () => {
  const peer = {
    mote: { tokensPerSec: 40, msPerStep: 6400, cpuMsPerStep: 6000, peakRssMB: 2000 },
    lora: { tokensPerSec: 50, msPerStep: 5120, cpuMsPerStep: 5000 },
  };
  it('one worker: tokens/s and CPU time per step side by side', () => {
    const ours = {
      mote: { tokensPerSec: 10, msPerStep: 25600, cpuMsPerStep: 24000, peakRssMB: 1000 },
      lora: { tokensPerSec: 20, msPerStep: 12800, cpuMsPerStep: 12500 },
    };
    expect(scalePeerRatio('smollm2-135m', 256, 1, 1, ours, peer)).toMatchObject({
      workers: 1,
      oursOverPytorch: 0.25,
      loraOursOverPytorch: 0.4,
      oursOverPytorchCpu: 0.25, // 6000 / 24000
      loraOursOverPytorchCpu: 0.4, // 5000 / 12500
      moteOverLora: { ours: 2, pytorch: 1.25 },
      peakRssOverPytorch: 0.5,
    });
  });
  it('two workers (two sequences a step): CPU time compared per sequence', () => {
    const ours = {
      mote: { tokensPerSec: 16, msPerStep: 32000, cpuMsPerStep: 60000, peakRssMB: 3000 },
      lora: { tokensPerSec: 25, msPerStep: 20480, cpuMsPerStep: 40000 },
    };
    expect(scalePeerRatio('smollm2-135m', 256, 2, 1, ours, peer)).toMatchObject({
      workers: 2,
      oursOverPytorch: 0.4,
      oursOverPytorchCpu: 0.2, // 6000 / (60000 / 2)
      loraOursOverPytorchCpu: 0.25, // 5000 / (40000 / 2)
      peakRssOverPytorch: 1.5,
    });
  });
});

describe.skipIf(!torch.ok)('train_peer.py at a scale-like shape (a python with torch is here)', () => {
  it('with --qkv-bias: one more frozen vector per q, k, v, the same trainable parameters, peak RSS and CPU time', async () => {
    const python = (torch as { command: string }).command;
    const args = {
      dim: 32,
      layers: 1,
      heads: 4,
      'kv-heads': 2,
      seq: 8,
      batch: 1,
      steps: 1,
      experts: 'lora',
      vocab: 64,
    };
    const [plain] = await runPeerScript(python, { ...args, 'qkv-bias': false, name: 'tiny' });
    const [biased] = await runPeerScript(python, { ...args, 'qkv-bias': true });
    expect(plain).toMatchObject({ model: 'tiny', experts: 'lora' });
    expect(biased.trainableParams).toBe(plain.trainableParams);
    expect(biased.loss).not.toBe(plain.loss); // the flag reached the script: same seed, other model
    expect(biased.peakRssMB).toBeGreaterThanOrEqual(biased.rssMB as number);
    expect(biased.cpuMsPerStep).toBeGreaterThan(0);
  }, 60_000);
});
