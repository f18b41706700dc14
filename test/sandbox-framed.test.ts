import { startSandbox, type Sandbox } from '../lib/sandbox';
import { authorizeUrl, codeOf, consentForm, exchangeCode, registerTestClient, type TestClient } from './helpers/sandbox';

/**
 * The sandbox's framed journey (lib/sandbox/routes/framed.ts; user-integration/embedded-journey-iframe.md):
 * a navigation inside an iframe (`Sec-Fetch-Dest: iframe`) ends with a message to the parent,
 * addressed to the redirect URI's origin, instead of a redirect.
 */
describe('sandbox framed journey', () => {
  let sandbox: Sandbox;
  let client: TestClient;
  const framed = { 'sec-fetch-dest': 'iframe' };

  beforeAll(async () => {
    sandbox = await startSandbox();
    client = registerTestClient(sandbox);
  });
  afterAll(() => sandbox.close());

  const decide = (form: URLSearchParams, headers: Record<string, string>) =>
    fetch(`${sandbox.domains.frontend}/authorize/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: form.toString(),
      redirect: 'manual',
    });

  /** The message and target origin of the page's single postMessage call. */
  function postedMessage(html: string): { message: Record<string, string>; targetOrigin: string } {
    const match = /window\.parent\.postMessage\((\{.*\}), ("[^"]*")\);/.exec(html);
    if (!match) throw new Error(`no postMessage in ${html}`);
    return { message: JSON.parse(match[1] as string), targetOrigin: JSON.parse(match[2] as string) };
  }

  it('lets the client origin, and only it, frame the consent page', async () => {
    const res = await fetch(authorizeUrl(sandbox, client), { headers: framed });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain('frame-ancestors http://127.0.0.1:3999;');
    expect(res.headers.get('x-frame-options')).toBeNull();
    // Not requested by a frame: as unframeable as before.
    const top = await fetch(authorizeUrl(sandbox, client), { headers: { 'sec-fetch-dest': 'document' } });
    expect(top.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(top.headers.get('x-frame-options')).toBe('DENY');
    // An error page (unknown client) stays unframeable.
    const error = await fetch(authorizeUrl(sandbox, { ...client, clientID: 'nobody' }), { headers: framed });
    expect(error.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(error.headers.get('x-frame-options')).toBe('DENY');
  });

  it('posts {code, sub1, state} to the redirect URI origin instead of redirecting, with a working code', async () => {
    const form = consentForm(await (await fetch(authorizeUrl(sandbox, client), { headers: framed })).text());
    form.set('decision', 'approve');
    const res = await decide(form, framed);
    expect(res.status).toBe(200);
    const { message, targetOrigin } = postedMessage(await res.text());
    expect(targetOrigin).toBe('http://127.0.0.1:3999');
    expect(message).toEqual({ code: expect.any(String), sub1: message.code, state: 'state-123' });
    expect(res.headers.get('content-security-policy')).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'; frame-ancestors http:\/\/127\.0\.0\.1:3999;/);
    expect((await exchangeCode(sandbox, client, message.code as string)).status).toBe(200);
  });

  it('posts {error} when the person denies', async () => {
    const form = consentForm(await (await fetch(authorizeUrl(sandbox, client))).text());
    form.set('decision', 'deny');
    const { message } = postedMessage(await (await decide(form, framed)).text());
    expect(message.error).toBe('access_denied');
    expect(message.code).toBeUndefined();
  });

  it('forces ensure_wallet in a frame: the field is read-only and another address is not taken', async () => {
    const wallet = '0x52908400098527886E0F7030069857D2E4169EE7';
    const url = authorizeUrl(sandbox, client, { scope: 'verification.wallet-eth:read', ensure_wallet: wallet });
    const html = await (await fetch(url, { headers: framed })).text();
    expect(html).toMatch(/id="wallet" value="0x52908400098527886E0F7030069857D2E4169EE7" readonly/);
    const form = consentForm(html);
    form.set('email', 'forced-wallet@example.com');
    form.set('wallet', '0x0000000000000000000000000000000000000001');
    form.set('decision', 'approve');
    expect((await decide(form, framed)).status).toBe(200);
    expect(sandbox.users.findByEmail('forced-wallet@example.com')?.wallets.map((w) => w.address)).toEqual([wallet]);
  });

  it('still redirects outside a frame', async () => {
    const form = consentForm(await (await fetch(authorizeUrl(sandbox, client))).text());
    form.set('decision', 'approve');
    const res = await decide(form, { 'sec-fetch-dest': 'document' });
    expect(res.status).toBe(302);
    expect(codeOf(res.headers.get('location') as string)).toBeTruthy();
  });
});
