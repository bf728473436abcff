// Finds and starts the Chromium the browser tests drive: Debian's `chromium` by default, or the browser that
// MOTE_BROWSER names (a real GPU machine's Chrome, say). Playwright-core downloads no browser of its own.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/**
 * Flags added to playwright's own Chromium defaults, which already give --headless, --no-sandbox (we run as
 * root), a fresh temporary profile and --disable-background-networking / --disable-component-update /
 * --disable-sync / --no-first-run (without those, Chromium's calls home are refused by this closed network,
 * many at a time). --enable-unsafe-webgpu exposes WebGPU on Linux: with no GPU it is SwiftShader's software
 * adapter, and without the flag `requestAdapter()` returns null. --disable-gpu is deliberately absent: it
 * keeps SwiftShader's adapter but would hide a real GPU's. QUIC is off because nothing here answers it.
 */
export const CHROMIUM_ARGS: readonly string[] = ['--enable-unsafe-webgpu', '--disable-quic'];

/** Executable names looked up on PATH when MOTE_BROWSER is not set. */
const CANDIDATE_NAMES = ['chromium', 'chromium-browser'];

/** The browser to drive: MOTE_BROWSER if set (it must be executable), else `chromium` on PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const chosen = env.MOTE_BROWSER;
  if (chosen) {
    if (!isExecutable(chosen)) throw new Error(`MOTE_BROWSER=${chosen} is not an executable file`);
    return chosen;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    for (const name of CANDIDATE_NAMES) {
      const path = join(dir, name);
      if (dir && isExecutable(path)) return path;
    }
  }
  throw new Error(
    "Chromium not found on PATH: the browser tests need it. Install Debian's with 'apt-get install chromium' " +
      '(.ci/run does this in CI), or set MOTE_BROWSER=/path/to/chrome.',
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Options of launchChromium. */
export interface LaunchOptions {
  /** Browser executable (default: findChromium()). */
  executablePath?: string;
  /** Flags added after CHROMIUM_ARGS and MOTE_BROWSER_ARGS (space-separated), e.g. --enable-features=Vulkan. */
  args?: string[];
}

/** Starts headless Chromium with CHROMIUM_ARGS. Close it with `browser.close()`. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const fromEnv = (process.env.MOTE_BROWSER_ARGS ?? '').split(/\s+/).filter(Boolean);
  return chromium.launch({
    executablePath: options.executablePath ?? findChromium(),
    args: [...CHROMIUM_ARGS, ...fromEnv, ...(options.args ?? [])],
    timeout: 60_000,
  });
}
