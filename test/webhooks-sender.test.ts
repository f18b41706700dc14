import { EventEmitter } from 'node:events';
import express from 'express';
import {
  MemoryWebhookStore,
  signFractalWebhook,
  WebhookSender,
  type DeliveryAttempt,
  type DeliveryResult,
  type KnownFractalWebhookPayload,
} from '../lib/webhooks';
import { emailChangeToWebhook, forwardSandboxEvents, verificationChangeToWebhook } from '../lib/sandbox';
import { deferred, listen, SECRET, WEBHOOK_PATH, webhookApp } from './helpers/webhooks';

/** Short delays: the provider's 20 s, 40 s, ... shrunk to milliseconds. */
const FAST = { initialDelayMs: 10, maxDelayMs: 40, factor: 2 };

const APPROVED: KnownFractalWebhookPayload = {
  type: 'verification_approved',
  data: { level: 'basic', user_id: 'user-1', timestamp: '2021-03-01T10:00:00Z' },
};

const servers: { close: () => Promise<void> }[] = [];
const senders: WebhookSender[] = [];
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(app: express.Express): Promise<string> {
  const server = await listen(app);
  servers.push(server);
  return server.url;
}

function sender(url: string, options: Partial<ConstructorParameters<typeof WebhookSender>[0]> = {}): WebhookSender {
  const created = new WebhookSender({ url, secrets: SECRET, retry: { ...FAST, maxAttempts: 5 }, ...options });
  senders.push(created);
  return created;
}

describe('WebhookSender against the middleware', () => {
  it('delivers a signed event that the middleware accepts on the first attempt', async () => {
    const { app, events } = webhookApp({ store: new MemoryWebhookStore() });
    const result = await sender(await serve(app)).send(APPROVED);
    expect(result).toMatchObject({ ok: true, cancelled: false, status: 200 });
    expect(result.attempts).toHaveLength(1);
    expect(events).toEqual([expect.objectContaining({ ...APPROVED, known: true, stale: false, deliveryId: result.deliveryId })]);
  });

  it('retries after a handler failure (non-2xx), and the retry succeeds', async () => {
    let calls = 0;
    const { app, events } = webhookApp({
      store: new MemoryWebhookStore(),
      onEvent: () => {
        calls += 1;
        if (calls < 3) throw new Error('database down');
      },
    });
    const seen: DeliveryAttempt[] = [];
    const result = await sender(await serve(app), { onAttempt: (a) => seen.push(a) }).send(APPROVED);
    expect(result.ok).toBe(true);
    expect(result.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
    expect(seen.map((a) => a.attempt)).toEqual([1, 2, 3]);
    expect(result.attempts[0]?.responseBody).toContain('handler_failed');
    // Three requests reached the app, and the event was handled (successfully) exactly once.
    expect(events).toHaveLength(3);
    expect(calls).toBe(3);
  });

  it('signs each type with its own secret', async () => {
    const secrets = { verification_approved: 'approved-secret', email_changed: 'email-secret' };
    const { app, events } = webhookApp({ secrets });
    const send = sender(await serve(app), { secrets });
    expect((await send.send(APPROVED)).ok).toBe(true);
    expect((await send.send({ type: 'email_changed', data: { user_id: 'u', email: 'e@example.com' } })).ok).toBe(true);
    expect(events.map((e) => e.type)).toEqual(['verification_approved', 'email_changed']);
    await expect(send.send({ type: 'credential_shared', data: { idos_human_id: 'h', credential_id: 'c', shared_at: '2021-03-01T00:00:00Z' } })).rejects.toMatchObject({
      code: 'configuration_error',
    });
  });

  it('signs with the first secret of a rotation list', async () => {
    let signature: string | undefined;
    const app = express();
    app.post(WEBHOOK_PATH, express.text({ type: '*/*' }), (req, res) => {
      signature = req.get('x-fractal-signature');
      res.sendStatus(204);
    });
    await sender(await serve(app), { secrets: ['new', 'old'] }).send(APPROVED);
    expect(signature).toBe(signFractalWebhook('new', JSON.stringify(APPROVED)));
  });
});

describe('WebhookSender failure rules (as the provider)', () => {
  it('treats a 3xx as a failure and does not follow it', async () => {
    let followed = 0;
    const app = express();
    app.post(WEBHOOK_PATH, (_req, res) => res.redirect(307, '/elsewhere'));
    app.post('/elsewhere', (_req, res) => {
      followed += 1;
      res.sendStatus(200);
    });
    const result = await sender(await serve(app), { retry: { ...FAST, maxAttempts: 2 } }).send(APPROVED);
    expect(result).toMatchObject({ ok: false, cancelled: false, status: 307 });
    expect(result.attempts).toHaveLength(2);
    expect(followed).toBe(0);
  });

  it('treats no answer within timeoutMs as a failure, then retries', async () => {
    let requests = 0;
    const app = express();
    app.post(WEBHOOK_PATH, (_req, res) => {
      requests += 1;
      if (requests === 1) return; // never answers
      res.sendStatus(204);
    });
    const result = await sender(await serve(app), { timeoutMs: 100 }).send(APPROVED);
    expect(result.ok).toBe(true);
    expect(result.attempts[0]).toMatchObject({ ok: false, error: expect.stringContaining('100 ms') });
    expect(result.attempts[1]).toMatchObject({ ok: true, status: 204 });
  });

  it('treats a refused connection as a failure and gives up after maxAttempts', async () => {
    const app = express();
    const url = await serve(app);
    await servers.pop()?.close();
    const result = await sender(url, { retry: { ...FAST, maxAttempts: 3 } }).send(APPROVED);
    expect(result).toMatchObject({ ok: false, cancelled: false });
    expect(result.attempts.map((a) => a.error !== undefined)).toEqual([true, true, true]);
  });

  it('backs off exponentially from 20 s up to daily by default', () => {
    const defaults = new WebhookSender({ url: 'http://127.0.0.1:9/', secrets: SECRET });
    expect([1, 2, 3, 4].map((n) => defaults.delayAfter(n))).toEqual([20_000, 40_000, 80_000, 160_000]);
    expect(defaults.delayAfter(30)).toBe(86_400_000);
  });

  it('waits the backoff delays between attempts', async () => {
    const times: number[] = [];
    const app = express();
    app.post(WEBHOOK_PATH, (_req, res) => {
      times.push(Date.now());
      res.sendStatus(times.length < 3 ? 503 : 200);
    });
    const result = await sender(await serve(app), { retry: { initialDelayMs: 60, factor: 2, maxDelayMs: 1000, maxAttempts: 3 } }).send(APPROVED);
    expect(result.ok).toBe(true);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(55);
    expect((times[2] as number) - (times[1] as number)).toBeGreaterThanOrEqual(115);
  });

  it('close() cancels pending retries and requests in flight', async () => {
    const hold = deferred();
    const app = express();
    app.post(WEBHOOK_PATH, (_req, res) => res.sendStatus(500));
    app.post('/slow', () => void hold.promise);
    const base = await serve(app);
    const send = new WebhookSender({ url: base, secrets: SECRET, retry: { initialDelayMs: 60_000, maxAttempts: 5 } });
    const slow = new WebhookSender({ url: new URL('/slow', base), secrets: SECRET });
    const waiting = send.send(APPROVED);
    const inFlight = slow.send(APPROVED);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(send.pending).toBe(1);
    const started = Date.now();
    await Promise.all([send.close(), slow.close()]);
    expect(Date.now() - started).toBeLessThan(1000);
    const [retried, aborted]: DeliveryResult[] = await Promise.all([waiting, inFlight]);
    expect(retried).toMatchObject({ ok: false, cancelled: true });
    expect(retried?.attempts).toHaveLength(1);
    expect(aborted).toMatchObject({ ok: false, cancelled: true });
    await expect(send.send(APPROVED)).rejects.toMatchObject({ code: 'configuration_error' });
    hold.resolve();
  });

  it('refuses bad options at construction', () => {
    expect(() => new WebhookSender({ url: 'ftp://127.0.0.1/', secrets: SECRET })).toThrow(/http/);
    expect(() => new WebhookSender({ url: 'not a url', secrets: SECRET })).toThrow(/url/);
    expect(() => new WebhookSender({ url: 'http://127.0.0.1/', secrets: '' })).toThrow(/secrets/);
    expect(() => new WebhookSender({ url: 'http://127.0.0.1/', secrets: SECRET, retry: { maxAttempts: 0 } })).toThrow(/maxAttempts/);
    expect(() => new WebhookSender({ url: 'http://127.0.0.1/', secrets: SECRET, retry: { factor: 0.5 } })).toThrow(/factor/);
  });
});

describe('sandbox changes to provider events', () => {
  const change = { user_id: 'u1', level: 'basic', timestamp: '2021-03-01T10:00:00.000Z' };

  it('maps verification changes as the provider documents them', () => {
    const map = (status: 'pending' | 'contacted' | 'done', credential: 'pending' | 'approved' | 'rejected'): string | undefined =>
      verificationChangeToWebhook({ ...change, status, credential })?.type;
    expect(map('done', 'approved')).toBe('verification_approved');
    expect(map('done', 'rejected')).toBe('verification_rejected');
    expect(map('contacted', 'pending')).toBe('verification_contacted');
    expect(map('pending', 'pending')).toBeUndefined();
    expect(map('done', 'pending')).toBeUndefined();
    expect(verificationChangeToWebhook({ ...change, status: 'done', credential: 'approved' })?.data).toEqual({
      level: 'basic',
      user_id: 'u1',
      timestamp: '2021-03-01T10:00:00.000Z',
    });
    expect(emailChangeToWebhook({ user_id: 'u1', email: 'a@example.com' })).toEqual({
      type: 'email_changed',
      data: { user_id: 'u1', email: 'a@example.com' },
    });
  });

  it('forwards sandbox events to the app as signed webhooks, until stopped', async () => {
    const { app, events } = webhookApp({ store: new MemoryWebhookStore() });
    const emitter = new EventEmitter();
    const results: DeliveryResult[] = [];
    const done = deferred();
    const stop = forwardSandboxEvents(emitter, sender(await serve(app)), {
      onResult: (result) => {
        results.push(result);
        if (results.length === 3) done.resolve();
      },
    });
    emitter.emit('verification_changed', { ...change, status: 'contacted', credential: 'pending' });
    emitter.emit('verification_changed', { ...change, status: 'pending', credential: 'pending' });
    emitter.emit('verification_changed', { ...change, status: 'done', credential: 'approved', timestamp: '2021-03-01T10:00:05.000Z' });
    emitter.emit('email_changed', { user_id: 'u1', email: 'b@example.com' });
    await done.promise;
    stop();
    emitter.emit('email_changed', { user_id: 'u1', email: 'c@example.com' });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(events.map((e) => e.type).sort()).toEqual(['email_changed', 'verification_approved', 'verification_contacted']);
    expect(emitter.listenerCount('email_changed')).toBe(0);
  });
});
