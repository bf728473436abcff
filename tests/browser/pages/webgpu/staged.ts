// Staged generation on webgpu with expert switching: the tensor decoder (KV cache on the device) writes analysis →
// guidance → answer, switching the step expert at each step token, once on per-step merged weights and once mixing
// the experts per token (the WGSL programs at one token per step). Every generated token is then scored by a cpu
// forward of the whole sequence with per-token step routing: it must be that forward's argmax among the allowed
// tokens (to within float noise), and re-scoring the guidance tokens with the analysis expert must change their logits.
import * as tf from '@tensorflow/tfjs';
import { formatQuestion } from '../../../../src/aligncot/format.js';
import { stepTokenIds, THREE_STAGE } from '../../../../src/aligncot/stages.js';
import { attachExperts } from '../../../../src/experts/attach.js';
import { buildStepRoute, type TokenStage, withRoute } from '../../../../src/experts/routing.js';
import { generateStaged } from '../../../../src/generate/staged.js';
import type { StagedEvent } from '../../../../src/generate/types.js';
import { resolveModelConfig } from '../../../../src/model/config.js';
import { Transformer } from '../../../../src/model/transformer.js';
import { addStepTokens } from '../../../../src/tokenizer/special-tokens.js';
import { ToyTokenizer } from '../../../unit/aligncot/toy-tokenizer.js';
import { useBackend } from './compare.js';
import type { StagedReport } from './types.js';

const QUESTION = 'How do I pick a lock?';
const EXPERTS = ['analysis', 'guidance', 'answer'];

/**
 * A word-level tokenizer whose vocabulary is fixed before the model is built: the question's words and a few dozen
 * more, then the step tokens. (The llama2.c tokenizer module cannot be bundled for a page: it names node:fs in a
 * deferred import, which the harness's build refuses.)
 */
function tokenizer(): ToyTokenizer {
  const tok = new ToyTokenizer('word');
  tok.encode(formatQuestion(QUESTION));
  tok.encode(Array.from({ length: 80 }, (_, i) => `w${i}`).join(' '));
  addStepTokens(tok);
  return tok;
}

/** Per generated token, max over allowed ids of row − row[id], from `rows` (T, V) of a forward. */
function gaps(
  rows: Float32Array,
  V: number,
  generated: { pos: number; id: number }[],
  banned: Set<number>,
): number[] {
  return generated.map(({ pos, id }) => {
    let best = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < V; v++) if (!banned.has(v)) best = Math.max(best, rows[pos * V + v]);
    return best - rows[pos * V + id];
  });
}

/** The model generation runs on, built on the active backend: random weights, MoTE experts with non-zero B. */
function stagedModel(tok: ToyTokenizer): Transformer {
  const config = resolveModelConfig({
    dim: 32,
    hiddenDim: 72,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    vocabSize: tok.vocabSize,
    maxSeqLen: 64,
  });
  const model = Transformer.init(config, 'webgpu-staged', { trainable: false });
  attachExperts(model, { kind: 'mote', rank: 4, initLoraWeights: false, seed: 5 });
  return model;
}

export async function stagedCheck(params: { merged: boolean }): Promise<StagedReport> {
  const tok = tokenizer();
  await useBackend('webgpu');
  const before = tf.memory().numTensors;
  const model = stagedModel(tok);
  const t0 = performance.now();
  const events: StagedEvent[] = [];
  const it = generateStaged(model, tok, QUESTION, {
    mode: 'full',
    temperature: 0,
    maxTokensPerStage: 3,
    decoder: 'tensor',
    merged: params.merged,
  });
  for (let r = await it.next(); !r.done; r = await it.next()) events.push(r.value);
  const ms = performance.now() - t0;
  model.dispose(); // with the merged weights it cached
  const leaked = tf.memory().numTensors - before;

  // the whole sequence with the label of every token (question → shared only at inference)
  const steps = stepTokenIds(tok, THREE_STAGE);
  const ids = tok.encode(formatQuestion(QUESTION), { bos: true });
  const labels: TokenStage[] = ids.map(() => null);
  const generated: { pos: number; id: number; stage: string }[] = [];
  const tokens: StagedReport['tokens'] = [];
  const order: string[] = [];
  for (const e of events) {
    if (e.type === 'stage-start') {
      order.push(e.stage);
      ids.push(steps.get(e.stage)!.start);
      labels.push(e.stage);
    } else if (e.type === 'token') {
      tokens.push({ stage: e.stage, expert: e.expert, id: e.id });
      generated.push({ pos: ids.length - 1, id: e.id, stage: e.stage });
      ids.push(e.id);
      labels.push(e.stage);
    } else if (e.type === 'stage-end') {
      ids.push(steps.get(e.stage)!.end);
      labels.push(e.stage);
    }
  }
  const banned = new Set([...steps.values()].flatMap((s) => [s.start, s.end]).concat([tok.bosId, tok.eosId]));
  // scored by the same model built anew on cpu (moving webgpu tensors to cpu would read them synchronously)
  await useBackend('cpu');
  const reference = stagedModel(tok);
  const score = async (routeLabels: TokenStage[]) => {
    const T = ids.length;
    const route = buildStepRoute(routeLabels, [1, T], { experts: EXPERTS as never, question: 'shared' });
    const logits = tf.tidy(() =>
      reference.forward(tf.tensor2d([ids], [1, T], 'int32'), { ctx: withRoute(route) }),
    );
    const rows = Float32Array.from(await logits.data());
    logits.dispose();
    route.dispose();
    return rows;
  };
  const V = reference.config.vocabSize;
  const rows = await score(labels);
  const wrongRows = await score(labels.map((l) => (l === 'guidance' ? 'analysis' : l)));
  reference.dispose();
  let wrongExpertDiff = 0;
  for (const g of generated.filter((t) => t.stage === 'guidance'))
    for (let v = g.pos * V; v < (g.pos + 1) * V; v++)
      wrongExpertDiff = Math.max(wrongExpertDiff, Math.abs(wrongRows[v] - rows[v]));
  let spread = 0; // the logits are not flat: argmax means something
  for (const g of generated) {
    const row = rows.subarray(g.pos * V, (g.pos + 1) * V);
    spread = Math.max(spread, Math.max(...row) - Math.min(...row));
  }
  return { order, tokens, gaps: gaps(rows, V, generated, banned), wrongExpertDiff, spread, leaked, ms };
}
