// Hooks for scripted use of the page (the browser test, tests/browser/playground.test.ts): what the page shows, as
// data, and the actions that have no button of their own. The buttons and form are driven as a user would.
import { exposeChecks } from '../../../tests/browser/protocol.js';
import type { WorkerClient } from './client.js';
import type { BenchParams, Results } from './protocol.js';

interface PageHooks {
  state: {
    busy: string | null;
    backend: unknown;
    model: unknown;
    steps: unknown[];
    errors: string[];
    notes: string[];
  };
  client: WorkerClient;
  runBench(params?: BenchParams): Promise<Results['bench'] | undefined>;
}

export function exposePlaygroundChecks(page: PageHooks): void {
  exposeChecks({
    /** The page's state: busy or idle, the backend choice, the loaded model, the plotted steps, messages. */
    state: async () => JSON.parse(JSON.stringify(page.state)),
    /** The logits after a question and the answer's start token (worker.ts `probe`). */
    probe: (async ({ question }: { question: string }) => page.client.call({ type: 'probe', question })) as (
      p: never,
    ) => Promise<unknown>,
    /** The benchmark of the bench panel, with its step and token counts. */
    bench: (async (params: BenchParams) => {
      const r = await page.runBench(params);
      if (!r)
        throw new Error(`the benchmark did not run: ${page.state.errors.at(-1) ?? 'the page was busy'}`);
      return r;
    }) as (p: never) => Promise<unknown>,
  });
}
