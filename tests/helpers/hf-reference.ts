// Tiny Hugging Face model directories made by the tests (seeded random weights under HF's tensor names, written as
// safetensors F32/F16/BF16, single file or sharded), and an INDEPENDENT reference forward written here in HF's own
// layout: PyTorch (out, in) weights, rotate_half RoPE (dimension i paired with i + hd/2), biases, head_dim, RoPE
// frequencies scaled by the formulas of transformers' modeling_rope_utils.py evaluated in float64. It shares no code
// with src/model or src/io, so the loader's permutation, transposes, biases and scaling are all checked by it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import seedrandom from 'seedrandom';
import { encodeSafetensors, type HostTensor } from '../../src/io/safetensors.js';

/** The shape of a tiny HF model (the fields of its config.json that matter here). */
export interface TinyHfSpec {
  family: 'llama' | 'qwen2' | 'mistral';
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  /** Omit for hidden / heads (then config.json has no head_dim). */
  headDim?: number;
  vocab: number;
  positions: number;
  tied: boolean;
  ropeTheta: number;
  /** config.json `rope_scaling`, as written by transformers. */
  ropeScaling?: Record<string, unknown> | null;
  /** Llama only: q/k/v/o biases, gate/up/down biases. (Qwen2 always has q/k/v biases.) */
  attentionBias?: boolean;
  mlpBias?: boolean;
  eps: number;
  /** Extra config.json fields (eos lists, sliding window…). */
  extra?: Record<string, unknown>;
}

const ARCH = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', mistral: 'MistralForCausalLM' };

export function headDimOf(s: TinyHfSpec): number {
  return s.headDim ?? s.hidden / s.heads;
}

/** config.json of the spec, as transformers would write it. */
export function tinyConfigJson(s: TinyHfSpec): Record<string, unknown> {
  return {
    architectures: [ARCH[s.family]],
    model_type: s.family,
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    num_key_value_heads: s.kvHeads,
    ...(s.headDim !== undefined ? { head_dim: s.headDim } : {}),
    vocab_size: s.vocab,
    max_position_embeddings: s.positions,
    rms_norm_eps: s.eps,
    rope_theta: s.ropeTheta,
    rope_scaling: s.ropeScaling ?? null,
    hidden_act: 'silu',
    tie_word_embeddings: s.tied,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
    ...(s.family === 'llama' ? { attention_bias: !!s.attentionBias, mlp_bias: !!s.mlpBias } : {}),
    ...(s.family === 'qwen2'
      ? { use_sliding_window: false, sliding_window: 4096, max_window_layers: 1 }
      : {}),
    ...(s.family === 'mistral' ? { sliding_window: null } : {}),
    ...s.extra,
  };
}

/** Which projections carry biases in this spec. */
function biased(s: TinyHfSpec, proj: string): boolean {
  if (s.family === 'qwen2') return ['q_proj', 'k_proj', 'v_proj'].includes(proj);
  if (s.family === 'llama') {
    if (['q_proj', 'k_proj', 'v_proj', 'o_proj'].includes(proj)) return !!s.attentionBias;
    return !!s.mlpBias;
  }
  return false;
}

/**
 * Seeded random weights under HF names, (out, in) layout. Every value is k/256 with |k| < 256, so it is exact in
 * F32, F16 and BF16 alike: the three dtypes hold the same model. Norm weights are around 1.
 */
export function tinyHfWeights(s: TinyHfSpec, seed: string): Map<string, HostTensor> {
  const rng = seedrandom(seed);
  const q = (x: number) => Math.max(-255, Math.min(255, Math.round(x * 256))) / 256;
  const rand = (shape: number[], scale: number, center = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { shape, data: Float32Array.from({ length: n }, () => q(center + (rng() * 2 - 1) * scale)) };
  };
  const hd = headDimOf(s);
  const dims: Record<string, [number, number]> = {
    'self_attn.q_proj': [s.heads * hd, s.hidden],
    'self_attn.k_proj': [s.kvHeads * hd, s.hidden],
    'self_attn.v_proj': [s.kvHeads * hd, s.hidden],
    'self_attn.o_proj': [s.hidden, s.heads * hd],
    'mlp.gate_proj': [s.intermediate, s.hidden],
    'mlp.up_proj': [s.intermediate, s.hidden],
    'mlp.down_proj': [s.hidden, s.intermediate],
  };
  const w = new Map<string, HostTensor>();
  w.set('model.embed_tokens.weight', rand([s.vocab, s.hidden], 0.5));
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    w.set(`${p}.input_layernorm.weight`, rand([s.hidden], 0.3, 1));
    for (const [name, [o, i]] of Object.entries(dims)) {
      w.set(`${p}.${name}.weight`, rand([o, i], 1 / Math.sqrt(i)));
      if (biased(s, name.split('.')[1])) w.set(`${p}.${name}.bias`, rand([o], 0.3));
    }
    w.set(`${p}.post_attention_layernorm.weight`, rand([s.hidden], 0.3, 1));
  }
  w.set('model.norm.weight', rand([s.hidden], 0.3, 1));
  if (!s.tied) w.set('lm_head.weight', rand([s.vocab, s.hidden], 0.5));
  return w;
}

export interface WriteOptions {
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Split the tensors into this many shards listed by model.safetensors.index.json. Default 1 (one file). */
  shards?: number;
}

/** Writes config.json and the weights into `dir` (created). */
export async function writeTinyHfDir(
  dir: string,
  s: TinyHfSpec,
  tensors: Map<string, HostTensor>,
  options: WriteOptions = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(tinyConfigJson(s), null, 2));
  const dtype = options.dtype ?? 'F32';
  const shards = options.shards ?? 1;
  if (shards === 1) {
    await writeFile(
      join(dir, 'model.safetensors'),
      encodeSafetensors(tensors, { dtype, metadata: { format: 'pt' } }),
    );
    return;
  }
  const names = [...tensors.keys()];
  const per = Math.ceil(names.length / shards);
  const weightMap: Record<string, string> = {};
  for (let k = 0; k < shards; k++) {
    const file = `model-${String(k + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = new Map(names.slice(k * per, (k + 1) * per).map((n) => [n, tensors.get(n)!]));
    for (const n of part.keys()) weightMap[n] = file;
    await writeFile(join(dir, file), encodeSafetensors(part, { dtype, metadata: { format: 'pt' } }));
  }
  await writeFile(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
}

// ---------------------------------------------------------------- the reference forward (float64, HF layout)

/** RoPE inverse frequencies per transformers' formulas, in float64. */
export function referenceInvFreq(s: TinyHfSpec): number[] {
  const hd = headDimOf(s);
  const base = Array.from({ length: hd / 2 }, (_, i) => 1 / s.ropeTheta ** ((2 * i) / hd));
  const r = s.ropeScaling;
  const type = r ? (r.rope_type ?? r.type) : 'default';
  if (!r || type === 'default') return base;
  const factor = r.factor as number;
  if (type === 'linear') return base.map((w) => w / factor);
  if (type !== 'llama3') throw new Error(`reference: rope type ${type}`);
  const L = r.original_max_position_embeddings as number;
  const low = r.low_freq_factor as number;
  const high = r.high_freq_factor as number;
  return base.map((w) => {
    const wavelen = (2 * Math.PI) / w;
    if (wavelen < L / high) return w;
    if (wavelen > L / low) return w / factor;
    const smooth = (L / wavelen - low) / (high - low);
    return ((1 - smooth) * w) / factor + smooth * w;
  });
}

/** y (out) = W (out, in) · x + b. */
function affine(w: HostTensor, b: HostTensor | undefined, x: Float64Array): Float64Array {
  const [o, i] = w.shape;
  const y = new Float64Array(o);
  for (let r = 0; r < o; r++) {
    let acc = b ? b.data[r] : 0;
    for (let c = 0; c < i; c++) acc += w.data[r * i + c] * x[c];
    y[r] = acc;
  }
  return y;
}

function rmsnorm(x: Float64Array, w: HostTensor, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w.data[i]);
}

/** rotate_half RoPE of every head of `v` (heads·hd) at position `pos`, in place. */
function ropeHalf(v: Float64Array, hd: number, pos: number, inv: number[]): void {
  const half = hd / 2;
  for (let h = 0; h < v.length / hd; h++)
    for (let i = 0; i < half; i++) {
      const a = v[h * hd + i];
      const b = v[h * hd + half + i];
      const c = Math.cos(pos * inv[i]);
      const s = Math.sin(pos * inv[i]);
      v[h * hd + i] = a * c - b * s;
      v[h * hd + half + i] = b * c + a * s;
    }
}

/** Logits (T, vocab) of one sequence, computed the way transformers' LlamaForCausalLM / Qwen2 / Mistral do. */
export function referenceLogits(
  s: TinyHfSpec,
  w: Map<string, HostTensor>,
  ids: readonly number[],
): Float64Array {
  const hd = headDimOf(s);
  const inv = referenceInvFreq(s);
  const group = s.heads / s.kvHeads;
  const T = ids.length;
  const get = (n: string) => w.get(n);
  let xs = ids.map((id) =>
    Float64Array.from(w.get('model.embed_tokens.weight')!.data.subarray(id * s.hidden, (id + 1) * s.hidden)),
  );
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}`;
    const lin = (name: string, x: Float64Array) =>
      affine(get(`${p}.${name}.weight`)!, get(`${p}.${name}.bias`), x);
    const hs = xs.map((x) => rmsnorm(x, get(`${p}.input_layernorm.weight`)!, s.eps));
    const qs = hs.map((h, t) => {
      const q = lin('self_attn.q_proj', h);
      ropeHalf(q, hd, t, inv);
      return q;
    });
    const ks = hs.map((h, t) => {
      const k = lin('self_attn.k_proj', h);
      ropeHalf(k, hd, t, inv);
      return k;
    });
    const vs = hs.map((h) => lin('self_attn.v_proj', h));
    xs = xs.map((x, t) => {
      const att = new Float64Array(s.heads * hd);
      for (let h = 0; h < s.heads; h++) {
        const kv = Math.floor(h / group) * hd;
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let d = 0;
          for (let i = 0; i < hd; i++) d += qs[t][h * hd + i] * ks[j][kv + i];
          return d / Math.sqrt(hd);
        });
        const m = Math.max(...scores);
        const e = scores.map((z) => Math.exp(z - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++)
          for (let i = 0; i < hd; i++) att[h * hd + i] += (e[j] / z) * vs[j][kv + i];
      }
      const o = lin('self_attn.o_proj', att);
      return x.map((v, i) => v + o[i]);
    });
    xs = xs.map((x) => {
      const h = rmsnorm(x, get(`${p}.post_attention_layernorm.weight`)!, s.eps);
      const g = lin('mlp.gate_proj', h);
      const u = lin('mlp.up_proj', h);
      const a = g.map((v, i) => (v / (1 + Math.exp(-v))) * u[i]);
      const d = lin('mlp.down_proj', a);
      return x.map((v, i) => v + d[i]);
    });
  }
  const head = s.tied ? w.get('model.embed_tokens.weight')! : w.get('lm_head.weight')!;
  const out = new Float64Array(T * s.vocab);
  for (const [t, x] of xs.entries())
    out.set(affine(head, undefined, rmsnorm(x, w.get('model.norm.weight')!, s.eps)), t * s.vocab);
  return out;
}
