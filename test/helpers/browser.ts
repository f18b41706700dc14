import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where a system Chromium usually is (Debian, Ubuntu, Fedora, Alpine, macOS). Never a downloaded browser. */
const CANDIDATES = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/lib/chromium/chromium',
  '/usr/bin/google-chrome',
  '/usr/bin/google-chrome-stable',
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

/** `CHROMIUM_PATH`, else the first system Chromium found; .ci/run installs Debian's. */
export const CHROMIUM: string | undefined = process.env.CHROMIUM_PATH || CANDIDATES.find((candidate) => existsSync(candidate));
export const ARTIFACTS = path.join(__dirname, '..', 'artifacts');

export function launchChromium(): Promise<Browser> {
  if (!CHROMIUM) {
    throw new Error('Browser tests need Chromium: set CHROMIUM_PATH, or install it (Debian: apt-get install chromium)');
  }
  if (!existsSync(CHROMIUM)) throw new Error(`CHROMIUM_PATH=${CHROMIUM} does not exist`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI needs --no-sandbox; the rest stop Chromium from calling out on a closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Saves a full-page screenshot under test/artifacts/ (git-ignored) for a person to look at. */
export async function snap(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}
