/**
 * The protocol between the benchmark runner and its server processes (Node IPC over `fork`).
 * A server sends `ready` once listening; the runner sends requests with an id and gets one reply.
 */
export interface ReadyMessage {
  type: 'ready';
  /** Port on 127.0.0.1, when the process serves HTTP. */
  port?: number;
  /** Anything else the runner needs (origins, credentials). */
  info?: unknown;
}

export interface RequestMessage {
  type: 'request';
  id: number;
  action: string;
  payload?: unknown;
}

export interface ReplyMessage {
  type: 'reply';
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

export interface ExitMessage {
  type: 'exit';
}

export type ToChild = RequestMessage | ExitMessage;
export type FromChild = ReadyMessage | ReplyMessage;

/** Heap figures after a forced, full garbage collection. */
export interface HeapReport {
  heapUsed: number;
  heapTotal: number;
  rss: number;
  external: number;
}
