/// <reference lib="dom" />
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import { createApp } from '../example-app/app';
import { loadConfig } from '../example-app/config';
import { startSandbox, type Sandbox } from '../lib/sandbox';
import { launchChromium, snap } from './helpers/browser';

/**
 * The embedded journey (user-integration/embedded-journey-iframe.md) in a real Chromium: the
 * example app's "Verify in this page" opens the sandbox's journey in an iframe, the frame posts
 * `{code, state}` to the page, and browser/fractal-embed.js POSTs them to the callback.
 */
let sandbox: Sandbox;
let server: Server;
let foreign: Server;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let appURL: string;
let foreignURL: string;

const listen = async (s: Server) => {
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  sandbox = await startSandbox();
  server = createServer();
  appURL = await listen(server);
  const config = loadConfig({ BASE_URL: appURL, SESSION_SECRET: 'e'.repeat(32) });
  const { clientID, clientSecret } = sandbox.registerClient({ redirectUris: [`${appURL}/auth/fractal/callback`], name: 'Example app' });
  // Another origin (same host, other port: same site, so the session cookie still goes along).
  foreign = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'text/html');
    if (url.pathname === '/frame') {
      res.end(`<script>parent.postMessage({ code: 'forged-code', state: 'forged-state', sub1: 'forged-code' }, '*');
        parent.postMessage({ marker: 'foreign-done' }, '*');</script>`);
    } else {
      const field = (name: string) => `<input type="hidden" name="${name}" value="${(url.searchParams.get(name) ?? '').replace(/[^\w-]/g, '')}">`;
      res.end(`<form method="post" action="${appURL}/auth/fractal/callback">${field('code')}${field('state')}</form><script>document.forms[0].submit()</script>`);
    }
  });
  foreignURL = await listen(foreign);
  // The app's CSP allows frames of 'self' and the FRONTEND origin only, which would refuse the
  // foreign frames below outright; allow that origin so that the embed script's own origin
  // check is what these tests exercise.
  server.on('request', createApp({ config, clientID, clientSecret, domains: sandbox.domains, log: () => undefined, frameSources: [foreignURL] }));
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => foreign.close(resolve));
  await sandbox.close();
});

beforeEach(async () => {
  context = await browser.newContext();
  page = await context.newPage();
});

afterEach(async () => {
  await context.close();
});

/** Home, "Verify in this page", and the sandbox's consent page loaded inside the iframe. */
async function openEmbedded(): Promise<Frame> {
  await page.goto(appURL);
  await page.click('#verify-embed');
  const handle = await page.waitForSelector('iframe.fractal-embed-frame');
  const frame = (await handle.contentFrame())!;
  await frame.waitForURL(`${sandbox.domains.frontend}/authorize**`);
  await frame.waitForSelector('#approve');
  return frame;
}

it('signs in inside the iframe and lands signed in on the profile, without leaving the page for the provider', async () => {
  const navigations: string[] = [];
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) navigations.push(f.url());
  });
  const frame = await openEmbedded();
  const attributes = await page.$eval('iframe.fractal-embed-frame', (el) => ({ allow: el.getAttribute('allow'), sandbox: el.getAttribute('sandbox') }));
  // The documented skeleton, exactly (user-integration/embedded-journey-iframe.md).
  expect(attributes).toEqual({
    allow: 'camera *; fullscreen *',
    sandbox: 'allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox allow-same-origin allow-scripts',
  });
  await frame.fill('#email', 'embedded@example.com');
  await snap(page, '10-embedded-consent');
  const [post] = await Promise.all([
    page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${appURL}/auth/fractal/callback`),
    page.waitForURL(`${appURL}/profile`),
    frame.click('#approve'),
  ]);
  await snap(page, '11-embedded-profile');
  expect(Object.keys(Object.fromEntries(new URLSearchParams(post.postData() ?? '')))).toEqual(['code', 'state']);
  expect(await page.textContent('#uid')).toMatch(/\S+/);
  expect(await page.textContent('body')).toContain('embedded@example.com');
  // The top-level page never went to the provider's origin.
  expect(navigations.every((u) => u.startsWith(appURL))).toBe(true);
});

it('ignores {code, state} messages from any other origin, then still completes with the genuine one', async () => {
  const posts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url() === `${appURL}/auth/fractal/callback`) posts.push(r.postData() ?? '');
  });
  const frame = await openEmbedded();
  // From the page itself (the app's origin) and from a frame of another origin.
  const stillOpen = await page.evaluate(
    (foreignFrame) =>
      new Promise<boolean>((resolve) => {
        let pending = 2;
        const done = () => {
          pending -= 1;
          // Synchronous with dispatch: had a forged message been accepted, the frame would be gone.
          if (pending === 0) resolve(document.querySelector('iframe.fractal-embed-frame') !== null);
        };
        window.addEventListener('message', (event) => {
          if (event.data?.marker) done();
        });
        window.postMessage({ code: 'forged-code', state: 'forged-state' }, '*');
        window.postMessage({ marker: 'self-done' }, '*');
        const other = document.createElement('iframe');
        other.src = foreignFrame;
        document.body.appendChild(other);
      }),
    `${foreignURL}/frame`,
  );
  expect(stillOpen).toBe(true);
  expect(posts).toEqual([]);
  await Promise.all([page.waitForURL(`${appURL}/profile`), frame.click('#approve')]);
  expect(posts).toHaveLength(1);
  expect(posts[0]).not.toContain('forged');
});

it('ignores a message from the journey frame itself once it shows another origin (event.origin is checked, not only the source)', async () => {
  await openEmbedded();
  const stillOpen = await page.evaluate(
    (foreignFrame) =>
      new Promise<boolean>((resolve) => {
        window.addEventListener('message', (event) => {
          if (event.data?.marker) resolve(document.querySelector('iframe.fractal-embed-frame') !== null);
        });
        // Same iframe element, so the same WindowProxy as event.source; only the origin differs.
        (document.querySelector('iframe.fractal-embed-frame') as HTMLIFrameElement).src = foreignFrame;
      }),
    `${foreignURL}/frame`,
  );
  expect(stillOpen).toBe(true);
});

it('refuses the callback POST from a foreign origin (403), which leaves the genuine sign-in usable', async () => {
  let hold: (body: URLSearchParams) => void = () => undefined;
  const held = new Promise<URLSearchParams>((resolve) => {
    hold = resolve;
  });
  // Hold the genuine POST back, to replay its {code, state} from another origin.
  await page.route(`${appURL}/auth/fractal/callback`, async (route) => {
    hold(new URLSearchParams(route.request().postData() ?? ''));
    await route.abort();
  });
  const frame = await openEmbedded();
  await frame.click('#approve');
  const captured = await held;
  await page.unroute(`${appURL}/auth/fractal/callback`);
  expect(captured.get('code')).toBeTruthy();

  const attack = await page.context().newPage();
  const [answer] = await Promise.all([
    attack.waitForResponse((r) => r.url() === `${appURL}/auth/fractal/callback`),
    attack.goto(`${foreignURL}/post?${captured.toString()}`),
  ]);
  expect(answer.status()).toBe(403);
  expect(await answer.request().headerValue('origin')).toBe(foreignURL);
  await attack.waitForSelector('[role="alert"]');
  expect(await attack.textContent('[role="alert"]')).toContain('another website');
  expect(await (await attack.goto(`${appURL}/api/me`))!.status()).toBe(401);
  await snap(attack, '12-embedded-foreign-post');

  // The same code and state from the app's own origin still sign in: the Origin was the reason.
  await page.goto(appURL);
  await Promise.all([
    page.waitForURL(`${appURL}/profile`),
    page.evaluate((fields) => {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = '/auth/fractal/callback';
      for (const [name, value] of fields) {
        const input = document.createElement('input');
        input.type = 'hidden';
        input.name = name;
        input.value = value;
        form.appendChild(input);
      }
      document.body.appendChild(form);
      form.submit();
    }, [...captured]),
  ]);
  expect(await page.textContent('#uid')).toMatch(/\S+/);
});

it('shows the refusal when the person denies inside the frame, and closes the frame', async () => {
  const frame = await openEmbedded();
  await frame.click('#deny');
  await page.waitForSelector('#embed-status:has-text("access_denied")');
  expect(await page.$('iframe.fractal-embed-frame')).toBeNull();
  expect(page.url()).toBe(`${appURL}/`);
});

it('opens the links the frame asks for ({open, target, features}), never a javascript: URL', async () => {
  await page.addInitScript(() => {
    const calls: unknown[][] = [];
    (window as unknown as { openCalls: unknown[][] }).openCalls = calls;
    window.open = (...args: unknown[]) => {
      calls.push(args);
      return null;
    };
  });
  const frame = await openEmbedded();
  // What Fractal ID's frame sends for a wallet sign-in on mobile; evaluated in the frame, so the
  // message really comes from the FRONTEND origin and from the iframe the script opened.
  await frame.evaluate(() => {
    window.parent.postMessage({ open: 'javascript:alert(1)', target: '_self' }, '*');
    window.parent.postMessage({ open: 'https://metamask.app.link/dapp/example', target: '_blank', features: 'noopener' }, '*');
  });
  await page.waitForFunction(() => (window as unknown as { openCalls: unknown[][] }).openCalls.length > 0);
  expect(await page.evaluate(() => (window as unknown as { openCalls: unknown[][] }).openCalls)).toEqual([
    ['https://metamask.app.link/dapp/example', '_blank', 'noopener'],
  ]);
  expect(await page.$('iframe.fractal-embed-frame')).not.toBeNull();
});
