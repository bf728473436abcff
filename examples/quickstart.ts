// The README's 30-second example, runnable: `npx tsx examples/quickstart.ts` (MOTE_QUICK=1 for a shortened run).
// Loads stories260K, adds the step tokens, attaches MoTE, trains on the bundled chains, answers stage by stage.
import {
  addStepTokens,
  attachExperts,
  encodeChains,
  generateStaged,
  loadChains,
  loadModel,
  selectBackend,
  train,
} from '../src/index.js';

const quick = process.env.MOTE_QUICK === '1';
const backend = await selectBackend();
console.log(`backend: ${backend.name} (${backend.reason})`);

const { model, tokenizer } = await loadModel('models/stories260K/stories260K.bin', {
  tokenizer: 'models/stories260K/tok512.bin',
});
addStepTokens(tokenizer); // <|analysis|> … <|/response|>, atomic ids
model.addTokens(tokenizer.vocabSize - model.config.vocabSize);
attachExperts(model, { kind: 'mote', rank: 16, alpha: 0.5 });

const { chains } = await loadChains('examples/data/chains.jsonl', { onError: 'throw' });
const { encoded } = encodeChains(chains, tokenizer, { maxLen: 512, onOverflow: 'drop' });
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
