/// <reference lib="dom" />
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createApp } from '../example-app/app';
import { loadConfig } from '../example-app/config';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { launchChromium, snap } from './helpers/browser';

/**
 * The KYC journey a person takes in the example app, in a real (headless) Chromium against the
 * sandbox: home, consent at the sandbox's own origin, profile, narrowing, denial, logout.
 */
let sandbox: Sandbox;
let server: Server;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let appURL: string;

beforeAll(async () => {
  sandbox = await startSandbox();
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  appURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({ BASE_URL: appURL, SESSION_SECRET: 'b'.repeat(32) });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${appURL}/auth/fractal/callback`], name: 'Example app' });
  const webhookSecret = 'browser-webhook-secret';
  server.on('request', createApp({ config, clientID, clientSecret, domains: sandbox.domains, webhookSecret, log: () => undefined }));
  sandbox.setWebhooks({ url: `${appURL}/webhooks/fractal`, secrets: webhookSecret, retry: { initialDelayMs: 100, maxDelayMs: 500, maxAttempts: 5 } });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server.close(resolve));
  await sandbox.close();
});

beforeEach(async () => {
  context = await browser.newContext();
  page = await context.newPage();
});

afterEach(async () => {
  await context.close();
});

async function startFromHome(options: { level?: string; wallet?: string } = {}): Promise<void> {
  await page.goto(appURL);
  if (options.level) await page.selectOption('#level', options.level);
  if (options.wallet) await page.fill('#wallet', options.wallet);
  await Promise.all([page.waitForURL(`${sandbox.domains.frontend}/authorize**`), page.click('#verify')]);
}

it('signs in with a wallet and shows uid, wallet and granted scopes on the profile', async () => {
  const wallet = '0x52908400098527886E0F7030069857D2E4169EE7';
  await page.goto(appURL);
  await snap(page, '01-home');
  // The stylesheet really loaded (the header is dark only through style.css).
  expect(await page.evaluate(() => getComputedStyle(document.querySelector('header')!).backgroundColor)).toBe('rgb(16, 24, 40)');
  await startFromHome({ level: 'plus', wallet });
  expect(await page.inputValue('#wallet')).toBe(wallet);
  await page.fill('#email', 'browser@example.com');
  await snap(page, '02-consent');
  await Promise.all([page.waitForURL(`${appURL}/profile`), page.click('#approve')]);
  await snap(page, '03-profile');
  expect(await page.textContent('#uid')).toMatch(/\S+/);
  expect(await page.textContent('#granted-scopes')).toContain('verification.plus:read');
  expect(await page.textContent('body')).toContain(wallet);
  expect(await page.textContent('body')).toContain('browser@example.com');
});

it('updates the open profile page when a webhook approves the verification, without a reload', async () => {
  await startFromHome({ level: 'basic' });
  await page.fill('#email', 'webhook-browser@example.com');
  await Promise.all([page.waitForURL(`${appURL}/profile`), page.click('#approve')]);
  await page.waitForSelector('#live-status:has-text("Live")');
  const uid = (await page.textContent('#uid'))!.trim();
  let reloads = 0;
  page.on('framenavigated', () => reloads++);
  // The provider's side: the case is approved, and the sandbox delivers a signed webhook.
  sandbox.users.setVerification(uid, 'basic', { status: 'done', credential: 'approved' });
  await page.waitForSelector('tr[data-level="basic"] .credential:has-text("approved")', { timeout: 10_000 });
  expect(await page.textContent('tr[data-level="basic"] .status')).toBe('done');
  expect(reloads).toBe(0);
  await snap(page, '09-webhook-approved');
});

it('shows a narrowed grant when the person unticks a scope', async () => {
  await startFromHome();
  await page.uncheck('input[name="scope"][value="contact:read"]');
  await Promise.all([page.waitForURL(`${appURL}/profile`), page.click('#approve')]);
  await snap(page, '04-narrowed');
  expect(await page.textContent('#denied-scopes')).toContain('contact:read');
  expect(await page.textContent('#granted-scopes')).not.toContain('contact:read');
});

it('explains a denial and offers to try again', async () => {
  await startFromHome();
  await Promise.all([page.waitForURL(`${appURL}/auth/fractal/callback**`), page.click('#deny')]);
  await snap(page, '05-denied');
  expect(await page.textContent('[role="alert"]')).toContain('You chose not to share');
  await Promise.all([page.waitForURL(`${appURL}/`), page.click('text=Try again')]);
});

it('signs out', async () => {
  await startFromHome();
  await Promise.all([page.waitForURL(`${appURL}/profile`), page.click('#approve')]);
  await Promise.all([page.waitForURL(`${appURL}/`), page.click('#logout')]);
  await snap(page, '06-signed-out');
  const res = await page.goto(`${appURL}/profile`);
  // Signed out: /profile sends the person back to sign-in, at the sandbox.
  expect(res?.url()).toContain(`${sandbox.domains.frontend}/authorize`);
});

it('signs in through a popup: the popup tells the opener, closes, and the opener shows the profile', async () => {
  await page.goto(appURL);
  const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#verify-popup')]);
  await popup.waitForURL(`${sandbox.domains.frontend}/authorize**`);
  expect(new URL(popup.url()).searchParams.get('redirect_uri')).toBe(`${appURL}/auth/fractal/callback`);
  await snap(popup, '07-popup-consent');
  await Promise.all([popup.waitForEvent('close'), page.waitForURL(`${appURL}/profile`), popup.click('#approve')]);
  await snap(page, '08-popup-opener-profile');
  expect(await page.textContent('#uid')).toMatch(/\S+/);
});

it('falls back to a full-page redirect when the popup is blocked', async () => {
  const wallet = '0x52908400098527886E0F7030069857D2E4169EE7';
  // A popup blocker: window.open answers null. The binding outlives navigations, so it still
  // tells us afterwards that the popup was really tried (and with which URL).
  const opened: string[] = [];
  await page.exposeBinding('recordWindowOpen', (_source, url: string) => void opened.push(url));
  await page.addInitScript(() => {
    window.open = (url?: string | URL) => {
      void (window as unknown as { recordWindowOpen: (u: string) => Promise<void> }).recordWindowOpen(String(url));
      return null;
    };
  });
  await page.goto(appURL);
  await page.fill('#wallet', wallet);
  await Promise.all([page.waitForURL(`${sandbox.domains.frontend}/authorize**`), page.click('#verify-popup')]);
  expect(opened).toHaveLength(1);
  expect(new URL(opened[0] as string, appURL).searchParams.get('popup')).toBe('1');
  // The same page went to the consent screen, with the form's choices, as a plain sign-in.
  const authorize = new URL(page.url());
  expect(authorize.searchParams.get('redirect_uri')).toBe(`${appURL}/auth/fractal/callback`);
  expect(authorize.searchParams.get('ensure_wallet')).toBe(wallet);
  await Promise.all([page.waitForURL(`${appURL}/profile`), page.click('#approve')]);
  expect(await page.textContent('#uid')).toMatch(/\S+/);
  expect(await page.textContent('body')).toContain(wallet);
  expect(context.pages()).toEqual([page]);
});
