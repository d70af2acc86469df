/**
 * A headless Chromium for the browser tests and `npm run bench:web`, driven by playwright-core
 * (which downloads no browser): the system's Chromium (Debian: `apt-get install chromium`), or the
 * one BONE_CHROMIUM names. The flags keep it from reaching for the network (updates, sync, field
 * trials), which a closed network would refuse anyway.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** The Chromium to use, or null with the places looked at. */
export function findChromium(): { path: string } | { path: null; searched: string[] } {
  const given = process.env.BONE_CHROMIUM;
  const searched = given ? [given] : CHROMIUM_CANDIDATES;
  const path = searched.find((p) => existsSync(p));
  return path ? { path } : { path: null, searched };
}

export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * WebGPU in headless Chromium: with the GPU process on and WebGPU unlocked, Chromium hands out an
 * adapter even without a GPU (its software rasteriser, SwiftShader), which is what `webgpu` asks for.
 */
const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];

/** Launches it with a fresh profile (removed on close); `webgpu` keeps the GPU process for WebGPU. */
export async function launchChromium(executablePath: string, options: { webgpu?: boolean } = {}): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'bone-chromium-'));
  const args = options.webgpu ? [...CHROMIUM_ARGS.filter((a) => a !== '--disable-gpu'), ...WEBGPU_ARGS] : CHROMIUM_ARGS;
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args, acceptDownloads: true });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
