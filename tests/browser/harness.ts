// The browser test harness: build a page with Vite, serve it on 127.0.0.1, drive it in headless Chromium,
// call its checks, collect what went wrong in the page, tear everything down.
//
//   const h = await openHarness({ page: 'tests/browser/pages/smoke', outDir: 'out/browser/smoke' });
//   const page = await h.open();                     // or h.open({ crossOriginIsolated: true })
//   const result = await page.call<Result>('wasm', { m: 8 });
//   expect(page.errors()).toEqual([]);
//   await page.screenshot('out/browser/smoke.png');
//   await h.close();
import type { Browser, Page } from 'playwright-core';
import { buildPage } from './build.js';
import { launchChromium } from './chromium.js';
import { PAGE_API, type PageApi } from './protocol.js';
import { type StaticServer, serveStatic } from './server.js';

export { buildPage } from './build.js';
export { CHROMIUM_ARGS, findChromium, launchChromium } from './chromium.js';
export { type ServeOptions, type StaticServer, serveStatic } from './server.js';

/** Options of openHarness. */
export interface HarnessOptions {
  /** Directory with the page's index.html and its entry module. */
  page: string;
  /** Where the built site goes (emptied first); keep it under the gitignored out/. */
  outDir: string;
  /** Directories served beside the page, under URL prefixes (see ServeOptions.mounts). */
  mounts?: Record<string, string>;
  /** The page's own Vite config file (see BuildPageOptions.configFile). */
  configFile?: string;
}

/** Milliseconds spent in each phase, for the test's timing report. */
export interface HarnessTimings {
  buildMs: number;
  launchMs: number;
}

/** A built page and a running browser; open() serves the page and loads it in a new tab. */
export interface Harness {
  browser: Browser;
  timings: HarnessTimings;
  /** Serves the built page (with its own server, so each tab may have its own headers) and loads it. */
  open(options?: OpenOptions): Promise<PageSession>;
  /** Closes every page, server and the browser. */
  close(): Promise<void>;
}

/** Options of Harness.open. */
export interface OpenOptions {
  /** Serve with COOP/COEP, making the page cross-origin isolated (default false). */
  crossOriginIsolated?: boolean;
  /** How long the page may take to load and register its checks (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * navigator.hardwareConcurrency as the page sees it (Chromium's DevTools override; default: the real one).
   * tfjs's threaded wasm build starts hardwareConcurrency / 2 XNNPACK threads (at most 8), so on a 2-core
   * machine it runs one thread unless this says 4.
   */
  hardwareConcurrency?: number;
  /** Script run in the page before its own (not in its workers), e.g. to hide an API the page checks for. */
  initScript?: string;
}

/** A loaded page. */
export interface PageSession {
  page: Page;
  server: StaticServer;
  /** Calls the page's check `name` with `params` and returns its JSON result; rejects with the page's error. */
  call<T>(name: string, params?: unknown): Promise<T>;
  /** Console messages of every type, as 'type: text'. */
  console: string[];
  /**
   * What went wrong in the page so far: uncaught errors, console errors, failed requests and HTTP errors.
   * A test asserts this is empty.
   */
  errors(): string[];
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

/** Builds the page, launches Chromium. */
export async function openHarness(options: HarnessOptions): Promise<Harness> {
  const t0 = performance.now();
  await buildPage(options.page, options.outDir, { configFile: options.configFile });
  const t1 = performance.now();
  const browser = await launchChromium();
  const timings = { buildMs: t1 - t0, launchMs: performance.now() - t1 };
  const sessions = new Set<PageSession>();
  return {
    browser,
    timings,
    async open(openOptions = {}) {
      const server = await serveStatic(options.outDir, {
        crossOriginIsolated: openOptions.crossOriginIsolated,
        mounts: options.mounts,
      });
      const session = await openPage(browser, server, openOptions);
      sessions.add(session);
      return session;
    },
    async close() {
      await Promise.allSettled([...sessions].map((s) => s.close()));
      await browser.close();
    },
  };
}

/** Opens `server`'s index page in a new tab and waits until the page has registered its checks. */
async function openPage(browser: Browser, server: StaticServer, options: OpenOptions): Promise<PageSession> {
  const page = await browser.newPage();
  if (options.hardwareConcurrency) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setHardwareConcurrencyOverride', {
      hardwareConcurrency: options.hardwareConcurrency,
    });
  }
  if (options.initScript) await page.addInitScript(options.initScript);
  const consoleLines: string[] = [];
  const problems: string[] = [];
  page.on('console', (msg) => {
    consoleLines.push(`${msg.type()}: ${msg.text()}`);
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.stack ?? err.message}`));
  page.on('requestfailed', (req) =>
    problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`),
  );
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
  });
  page.on('crash', () => problems.push('the page crashed'));
  const close = async () => {
    await page.close().catch(() => {});
    await server.close();
  };
  try {
    const response = await page.goto(`${server.origin}/`);
    if (!response?.ok()) throw new Error(`GET / answered ${response?.status()}`);
    await page.waitForFunction((key) => key in globalThis, PAGE_API, {
      timeout: options.readyTimeoutMs ?? 30_000,
    });
  } catch (err) {
    await close();
    const detail = problems.length ? problems.join('\n') : 'no error reported by the page';
    throw new Error(`the page at ${server.origin} did not register its checks: ${String(err)}\n${detail}`);
  }
  return {
    page,
    server,
    console: consoleLines,
    errors: () => [...problems],
    call: <T>(name: string, params: unknown = {}) =>
      page.evaluate(
        ([key, check, args]) => {
          const api = (globalThis as unknown as Record<string, PageApi>)[key];
          const fn = api.checks[check] as ((p: unknown) => Promise<unknown>) | undefined;
          if (!fn)
            throw new Error(`the page has no check '${check}' (has: ${Object.keys(api.checks).join(', ')})`);
          return fn(args);
        },
        [PAGE_API, name, params] as const,
      ) as Promise<T>,
    screenshot: async (path) => {
      await page.screenshot({ path, fullPage: true });
    },
    close,
  };
}
