/**
 * esbuild, set up once for everything this project bundles for browsers: the library bundle
 * (dist/browser/bone-peft.js, "bone-peft/web/bundle": one ES module with its dependencies, for
 * pages without a bundler) and the page of `npm run demo:web`. onnxruntime-web is taken in its
 * build that loads its WebAssembly runtime (ort-wasm-simd-threaded*.mjs + .wasm) at run time from
 * `wasmPaths`, rather than inlining 25 MB of it into the bundle.
 *
 *   node --import tsx scripts/browser-build.ts      (run by npm run build)
 */
import { join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export const BROWSER_BUILD_OPTIONS = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  conditions: ['onnxruntime-web-use-extern-wasm'],
  minify: true,
  metafile: true,
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** Bundles `entryPoints` into `outdir`; returns each .js output's size in bytes, by its path under outdir. */
export async function bundleForBrowsers(entryPoints: string[], outdir: string, extra: BuildOptions = {}): Promise<Record<string, number>> {
  const result = await build({ ...BROWSER_BUILD_OPTIONS, ...extra, entryPoints, outdir });
  return Object.fromEntries(Object.entries(result.metafile!.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .map(([file, out]) => [relative(outdir, join(ROOT, file)), out.bytes]));
}

export const LIBRARY_BUNDLE_DIR = join(ROOT, 'dist', 'browser');

export async function buildLibraryBundle(): Promise<Record<string, number>> {
  return bundleForBrowsers([join(ROOT, 'src', 'web', 'bundle', 'bone-peft.ts')], LIBRARY_BUNDLE_DIR);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const sizes = await buildLibraryBundle();
  // On stderr: npm pack --json (which runs this through prepack) owns stdout.
  console.error(`browser bundle: ${Object.entries(sizes).map(([f, n]) => `dist/browser/${f} ${(n / 1024).toFixed(0)} KiB`).join(', ')}`);
}
