// The README's 30-second example, runnable: `npx tsx examples/quickstart.ts` (MOTE_QUICK=1 for a shortened run).
// Loads stories260K, adds the step tokens, attaches MoTE, trains on the bundled chains, answers stage by stage.
// It imports the package by name, as a user's code does: in this repository tsconfig.json maps 'mote-tfjs' to
// src/index.ts (tsx follows it); in an installed package it is the built dist/. The bundled files are found by
// `bundledModel()` / `BUNDLED` from any working directory.
import {
  addStepTokens,
  attachExperts,
  BUNDLED,
  bundledModel,
  encodeChains,
  generateStaged,
  loadChains,
  loadModel,
  selectBackend,
  train,
} from 'mote-tfjs';

const quick = process.env.MOTE_QUICK === '1';
const backend = await selectBackend();
console.log(`backend: ${backend.name} (${backend.reason})`);

const bundled = bundledModel(); // stories260K.bin and its tok512.bin, shipped in the package
const { model, tokenizer } = await loadModel(bundled.model, { tokenizer: bundled.tokenizer });
addStepTokens(tokenizer); // <|analysis|> … <|/response|>, atomic ids
model.addTokens(tokenizer.vocabSize - model.config.vocabSize);
attachExperts(model, { kind: 'mote', rank: 16, alpha: 0.5 });

const { chains } = await loadChains(BUNDLED.chains, { onError: 'throw' });
const { encoded } = encodeChains(chains, tokenizer, { maxLen: 512, onOverflow: 'truncate-reasoning' });
const data = quick ? [...encoded].sort((a, b) => a.ids.length - b.ids.length).slice(0, 8) : encoded;
await train(
  model,
  { train: data },
  { epochs: quick ? 1 : 2, learningRate: 1e-2, batchSize: 8, microBatchSize: 4, stepSkipProb: 0.2 },
  {
    onEvent: (e) =>
      e.type === 'step' && console.log(`step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)}`),
  },
);

for await (const e of generateStaged(model, tokenizer, 'How do I pick a lock?', {
  maxTokensPerStage: quick ? 8 : 48,
})) {
  if (e.type === 'stage-end') console.log(`${e.stage}: ${e.text}`);
}
model.dispose();
