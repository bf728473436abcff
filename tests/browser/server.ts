// A small static file server on 127.0.0.1 for built pages: the right MIME types (WebAssembly streaming
// compilation needs application/wasm), no caching, and optional cross-origin isolation headers.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.jsonl': 'application/jsonl',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** Options of serveStatic. */
export interface ServeOptions {
  /**
   * Send COOP `same-origin` and COEP `require-corp` (default false): the page is then cross-origin
   * isolated, which SharedArrayBuffer, and so tfjs's multi-threaded wasm build, needs.
   */
  crossOriginIsolated?: boolean;
  /** More directories, each served under a URL prefix such as '/models/' (e.g. fixtures from ../shared). */
  mounts?: Record<string, string>;
}

/** A running server. */
export interface StaticServer {
  /** e.g. http://127.0.0.1:40123 (no trailing slash). */
  origin: string;
  /** Every request served, as 'STATUS /path', in order: for assertions and for debugging a failed page. */
  requests: string[];
  close(): Promise<void>;
}

/** Serves `root` (and `mounts`) on 127.0.0.1 at a free port. */
export async function serveStatic(root: string, options: ServeOptions = {}): Promise<StaticServer> {
  const prefixes = Object.entries(options.mounts ?? {})
    .map(([prefix, dir]) => [prefix.endsWith('/') ? prefix : `${prefix}/`, resolve(dir)] as const)
    .sort((a, b) => b[0].length - a[0].length); // longest prefix first
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = urlPath(req.url);
    const send = (status: number, body?: string) => {
      requests.push(`${status} ${path ?? req.url}`);
      res.statusCode = status;
      res.end(body);
    };
    if (path === undefined) return send(400, 'malformed URL');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    const [prefix, dir] = prefixes.find(([p]) => path.startsWith(p)) ?? ['/', resolve(root)];
    const file = fileUnder(dir, path.slice(prefix.length) || 'index.html');
    if (!file) return send(403, 'outside the served directory');
    stat(file).then(
      (info) => {
        if (!info.isFile()) return send(404, 'not found');
        res.setHeader('Content-Type', MIME[extname(file)] ?? 'application/octet-stream');
        res.setHeader('Content-Length', info.size);
        res.setHeader('Cache-Control', 'no-store');
        if (options.crossOriginIsolated) {
          res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
          res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
          res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
        }
        requests.push(`200 ${path}`);
        if (req.method === 'HEAD') return res.end();
        createReadStream(file)
          .on('error', () => res.destroy())
          .pipe(res);
      },
      () => send(404, 'not found'),
    );
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** The decoded path of a request URL, or undefined when it is malformed. */
function urlPath(url: string | undefined): string | undefined {
  try {
    return decodeURIComponent(new URL(url ?? '/', 'http://127.0.0.1').pathname);
  } catch {
    return undefined;
  }
}

/** `dir/relative` if it stays inside `dir`, else undefined (no `..` escapes). */
function fileUnder(dir: string, relative: string): string | undefined {
  const file = normalize(join(dir, relative));
  return file === dir || file.startsWith(dir + sep) ? file : undefined;
}
