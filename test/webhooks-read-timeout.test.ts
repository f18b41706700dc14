import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { fractalWebhooks, WebhookErrorCode, type WebhookError } from '../lib/webhooks';
import { expectAccepted, postWebhook, SECRET, verificationBody, WEBHOOK_PATH } from './helpers/webhooks';

// Issue 14 item 12: a client trickling its body a byte at a time must not hold a socket (and a
// pending read) open: after readTimeoutMs it gets 408 and the server closes the connection.

jest.setTimeout(30_000);

const READ_TIMEOUT_MS = 600;

describe('webhook body read deadline (raw TCP clients)', () => {
  let server: Server;
  let port: number;
  const events: string[] = [];
  const errors: WebhookError[] = [];

  beforeAll(async () => {
    const app = express();
    app.post(
      WEBHOOK_PATH,
      fractalWebhooks({
        secrets: SECRET,
        readTimeoutMs: READ_TIMEOUT_MS,
        onEvent: (event) => void events.push(event.type),
        onError: (err) => void errors.push(err),
      }),
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );

  /** Opens a raw connection, sends the head and starts sending one body byte every 100 ms. */
  function trickle(): { socket: Socket; received: () => string; closed: Promise<number>; stop: () => void } {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('error', () => undefined); // a reset after the answer is fine; the answer was read first
    const started = Date.now();
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
    const body = verificationBody('verification_approved', new Date().toISOString());
    socket.write(
      `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `X-Fractal-Signature: sha1=${'0'.repeat(40)}\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    const timer = setInterval(() => {
      if (socket.destroyed || sent >= body.length) return;
      socket.write(body[sent++] ?? '');
    }, 100);
    return { socket, received: () => text, closed, stop: () => clearInterval(timer) };
  }

  it('answers 408 request_timeout to a body still incomplete after readTimeoutMs and closes the socket', async () => {
    const client = trickle();
    try {
      const closedAfterMs = await client.closed;
      expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
      expect(client.received()).toMatch(/\r\nconnection: close\r\n/i);
      expect(client.received()).toContain(`"error":"${WebhookErrorCode.REQUEST_TIMEOUT}"`);
      // Closed by the server, soon after the deadline: not when the client finished or gave up.
      expect(closedAfterMs).toBeGreaterThanOrEqual(READ_TIMEOUT_MS - 50);
      expect(closedAfterMs).toBeLessThan(READ_TIMEOUT_MS + 3000);
      expect(errors.map((e) => e.code)).toContain(WebhookErrorCode.REQUEST_TIMEOUT);
      expect(events).toHaveLength(0);
    } finally {
      client.stop();
      client.socket.destroy();
    }
  });

  it('frees the sockets of many tricklers at once', async () => {
    const clients = Array.from({ length: 20 }, () => trickle());
    try {
      await Promise.all(clients.map((c) => c.closed));
      const connections = await new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      expect(connections).toBe(0);
      expect(clients.every((c) => /^HTTP\/1\.1 408 /.test(c.received()))).toBe(true);
    } finally {
      for (const c of clients) {
        c.stop();
        c.socket.destroy();
      }
    }
  });

  it('a body that arrives in time is read as before', async () => {
    const body = verificationBody('verification_approved', new Date().toISOString());
    expectAccepted(await postWebhook(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, body));
    expect(events).toEqual(['verification_approved']);
  });

  it('refuses a readTimeoutMs that is not a positive whole number', () => {
    expect(() => fractalWebhooks({ secrets: SECRET, onEvent: () => undefined, readTimeoutMs: 0 })).toThrow(/readTimeoutMs/);
  });
});
