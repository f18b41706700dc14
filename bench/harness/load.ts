import autocannon from 'autocannon';

/** One measurement of one variant: successful requests per second and latency percentiles. */
export interface LoadSample {
  /** Successful (2xx) requests or completed flows. */
  ok: number;
  /** Failed requests or flows (non-2xx, errors, timeouts). */
  failed: number;
  seconds: number;
  /** ok / seconds. */
  rps: number;
  /** Milliseconds. */
  p50: number;
  p99: number;
  /** CPU time (user + system) the measured server process spent per successful request, in µs. */
  cpuUs?: number;
}

export interface AutocannonRun {
  url: string;
  connections: number;
  /** Seconds; or give `amount`. */
  duration?: number;
  amount?: number;
  headers?: Record<string, string>;
  method?: 'GET' | 'POST';
  /** Per-request builder (a new body each time, for example). */
  setupRequest?: autocannon.Request['setupRequest'];
  path?: string;
}

/** Runs autocannon in this process (the servers are separate processes) and condenses the result. */
export async function runAutocannon(run: AutocannonRun): Promise<LoadSample> {
  const options: autocannon.Options = {
    url: run.url,
    connections: run.connections,
    timeout: 10,
    headers: run.headers ?? {},
    method: run.method ?? 'GET',
  };
  if (run.amount !== undefined) options.amount = run.amount;
  else options.duration = run.duration ?? 5;
  if (run.setupRequest) {
    options.requests = [{ method: run.method ?? 'GET', path: run.path ?? new URL(run.url).pathname, headers: run.headers ?? {}, setupRequest: run.setupRequest }];
  }
  const result = await autocannon(options);
  const ok = result['2xx'];
  const failed = result.non2xx + result.errors + result.timeouts;
  return {
    ok,
    failed,
    seconds: result.duration,
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
  };
}
