/**
 * `npm run demo:web`: bundles the page and its worker with esbuild (into demo/web/dist/) and serves
 * them on a small local server, with the shipped model and data and onnxruntime-web's runtime
 * files, every response carrying the headers that make the page cross-origin isolated (COOP
 * same-origin, COEP require-corp), which WebAssembly threads need. Prints the URL.
 *
 *   node --import tsx demo/web/server.ts [--port 8080] [--host 127.0.0.1]
 *
 * The browser tests and `npm run bench:web` start it in-process (startDemoServer).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleForBrowsers } from '../../scripts/browser-build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WEB = join(ROOT, 'demo', 'web');
export const PAGE_DIST = join(WEB, 'dist');
export const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');

/** URL prefix → folder. Nothing outside these is served. */
const ROUTES: readonly (readonly [string, string])[] = [
  ['/demo/web/', WEB],
  ['/demo/model/', join(ROOT, 'demo', 'model')],
  ['/demo/data/', join(ROOT, 'demo', 'data')],
  ['/ort/', ORT_DIST],
];

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8', '.jsonl': 'application/jsonl; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8', '.wasm': 'application/wasm', '.map': 'application/json; charset=utf-8',
};

/** What cross-origin isolation needs, on every response (the worker script and the .wasm included). */
export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
} as const;

/** Bundles page.ts and worker.ts for browsers (scripts/browser-build.ts); returns the bundles' sizes in bytes. */
export async function buildPage(): Promise<Record<string, number>> {
  return bundleForBrowsers([join(WEB, 'page.ts'), join(WEB, 'worker.ts')], PAGE_DIST, { sourcemap: 'linked' });
}

function fileFor(urlPath: string): string | null {
  for (const [prefix, dir] of ROUTES) {
    if (!urlPath.startsWith(prefix)) continue;
    const rest = decodeURIComponent(urlPath.slice(prefix.length)) || 'index.html';
    const file = normalize(join(dir, rest));
    return file === dir || file.startsWith(dir.endsWith(sep) ? dir : dir + sep) ? file : null;
  }
  return null;
}

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

export async function startDemoServer(options: { port?: number; host?: string; build?: boolean } = {}): Promise<DemoServer> {
  if (options.build ?? true) await buildPage();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/' || path === '/demo/web') {
      res.writeHead(302, { Location: '/demo/web/', ...ISOLATION_HEADERS }).end();
      return;
    }
    const file = fileFor(path);
    const fail = (code: number, text: string): void => { res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', ...ISOLATION_HEADERS }).end(text); };
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      fail(file ? 405 : 404, file ? 'method not allowed' : 'not found');
      return;
    }
    stat(file).then((info) => {
      if (!info.isFile()) return fail(404, 'not found');
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': info.size, 'Cache-Control': 'no-cache', ...ISOLATION_HEADERS,
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    }, () => fail(404, 'not found'));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(options.port ?? 8080, host, resolve); });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}/demo/web/`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } } });
  const sizes = await buildPage();
  const server = await startDemoServer({ port: Number(values.port), host: values.host, build: false });
  console.log(`bundled: ${Object.entries(sizes).map(([f, n]) => `${f} ${(n / 1024).toFixed(0)} KiB`).join(', ')}`);
  console.log(`bone-peft demo page: ${server.url}  (cross-origin isolated; Ctrl-C stops)`);
}
