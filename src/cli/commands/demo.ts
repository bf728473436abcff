// `mote demo`: the main job on bundled data. Until the MoTE training demo lands, it loads the real
// stories260K and generates from it (greedy, then sampled), showing the backend and decode speed.
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import { generate } from '../../generate/generate.js';
import { loadModel } from '../../io/load.js';
import { backendOption, modelOptions, setUpBackend } from '../options.js';
import { PACKAGE_ROOT } from '../paths.js';

type Args = ArgumentsCamelCase<{
  backend: 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  model: string;
  tokenizer: string;
  quick: boolean;
}>;

export const demoCommand: CommandModule<object, Args> = {
  command: 'demo',
  describe: 'run the bundled demo (stories260K generation)',
  builder: (y) =>
    y.options({
      ...backendOption,
      ...modelOptions,
      quick: { type: 'boolean', default: false, describe: 'a shortened run (CI)' },
    }) as never,
  handler: async (a) => {
    await setUpBackend(a.backend);
    const { model, tokenizer } = await loadModel(a.model, { tokenizer: a.tokenizer });
    console.log(
      `model: ${a.model}: ${model.parameterCount().toLocaleString()} parameters, vocab ${model.config.vocabSize}`,
    );
    const runs = [
      { title: 'greedy from BOS (matches llama2.c run.c -t 0)', prompt: '', config: { temperature: 0 } },
      {
        title: 'sampled (temperature 0.8, top-p 0.9, seed 7)',
        prompt: 'Once upon a time, a little robot',
        config: { temperature: 0.8, topP: 0.9, seed: 7 },
      },
    ];
    for (const r of runs) {
      const t0 = performance.now();
      const out = await generate(model, tokenizer, r.prompt, { ...r.config, maxTokens: a.quick ? 40 : 200 });
      const s = (performance.now() - t0) / 1000;
      console.log(
        `\n--- ${r.title} ---\n${r.prompt}${out.text}\n(${out.ids.length} tokens, ${(out.ids.length / s).toFixed(0)} tokens/s)`,
      );
    }
    model.dispose();
  },
};
