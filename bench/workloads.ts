/**
 * The measurements: an autocannon run against whoami, and a bounded pool of
 * fetch() workers for the endpoints whose cost is password hashing (login,
 * registration), where each request must carry a different body.
 */
import autocannon from 'autocannon';
import { readMachineCpuSeconds } from './server-process.js';

export interface Measurement {
  /** Successful requests per second. */
  rate: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
  seconds: number;
  /** CPU used during the measured run, in cores (1 = one core busy all the time). */
  cpu?: { server: number; loadGenerator: number; other: number };
}

const WHOAMI = '/_matrix/client/v3/account/whoami';

export interface LoadOptions {
  connections: number;
  durationS: number;
  warmupS: number;
}

/**
 * Authenticated GET whoami from `connections` keep-alive connections for
 * `durationS` seconds. `serverCpuSeconds` reads the server's CPU clock, so that
 * the result shows which side was the bottleneck.
 */
export async function whoamiLoad(
  baseUrl: string,
  token: string,
  options: LoadOptions,
  serverCpuSeconds: () => number,
): Promise<Measurement> {
  const run = (durationS: number, latencies?: number[]) => {
    const instance = autocannon({
      url: baseUrl + WHOAMI,
      connections: options.connections,
      duration: durationS,
      headers: { authorization: `Bearer ${token}` },
    });
    // autocannon's own percentiles are whole milliseconds; a loopback request
    // takes about one, so the raw per-request times are kept instead.
    if (latencies) {
      instance.on('response', (_client, status, _bytes, ms) => {
        if (status >= 200 && status < 300) latencies.push(ms);
      });
    }
    return instance;
  };
  // A warm-up lets V8 optimise the hot path before anything is counted.
  if (options.warmupS > 0) await run(options.warmupS);
  const latencies: number[] = [];
  const serverCpuBefore = serverCpuSeconds();
  const ownCpuBefore = process.cpuUsage();
  const machineCpuBefore = readMachineCpuSeconds();
  const result = await run(options.durationS, latencies);
  const machineCpu = readMachineCpuSeconds() - machineCpuBefore;
  const ownCpuMicros = process.cpuUsage(ownCpuBefore);
  const ownCpu = (ownCpuMicros.user + ownCpuMicros.system) / 1e6;
  const serverCpu = serverCpuSeconds() - serverCpuBefore;
  return {
    rate: latencies.length / result.duration,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok: latencies.length,
    failed: result.non2xx + result.errors,
    seconds: result.duration,
    cpu: {
      server: serverCpu / result.duration,
      loadGenerator: ownCpu / result.duration,
      // Everything else on the machine; more than a few percent means the run was disturbed.
      other: Math.max(0, machineCpu - serverCpu - ownCpu) / result.duration,
    },
  };
}

/**
 * Runs `task` and adds the CPU it and everything else used meanwhile: the
 * server's (from `serverCpuSeconds`), this process's, and the rest of the machine's.
 */
export async function withCpu(
  serverCpuSeconds: () => number,
  task: () => Promise<Measurement>,
): Promise<Measurement> {
  const serverCpuBefore = serverCpuSeconds();
  const ownCpuBefore = process.cpuUsage();
  const machineCpuBefore = readMachineCpuSeconds();
  const measurement = await task();
  const machineCpu = readMachineCpuSeconds() - machineCpuBefore;
  const ownCpuMicros = process.cpuUsage(ownCpuBefore);
  const ownCpu = (ownCpuMicros.user + ownCpuMicros.system) / 1e6;
  const serverCpu = serverCpuSeconds() - serverCpuBefore;
  const seconds = measurement.seconds;
  return {
    ...measurement,
    cpu: {
      server: serverCpu / seconds,
      loadGenerator: ownCpu / seconds,
      other: Math.max(0, machineCpu - serverCpu - ownCpu) / seconds,
    },
  };
}

export interface PoolOptions {
  count: number;
  concurrency: number;
  /** Stop starting new requests after this long, whatever `count` says. */
  maxSeconds: number;
}

/** Sequential password logins (concurrency 1) as the same user. */
export function passwordLogins(
  baseUrl: string,
  user: string,
  password: string,
  options: PoolOptions,
): Promise<Measurement> {
  const body = JSON.stringify({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user },
    password,
  });
  return pool(options, () => postJson(`${baseUrl}/_matrix/client/v3/login`, body));
}

/** Registrations of fresh users through the dummy UIA stage, in one request each. */
export function registrations(
  baseUrl: string,
  usernamePrefix: string,
  options: PoolOptions,
): Promise<Measurement> {
  return pool(options, (i) =>
    postJson(
      `${baseUrl}/_matrix/client/v3/register`,
      JSON.stringify({
        username: `${usernamePrefix}${i}`,
        password: `bench-password-${i}`,
        auth: { type: 'm.login.dummy' },
      }),
    ),
  );
}

/** Registers a user and returns its access token (setup, not measured). */
export async function registerUser(
  baseUrl: string,
  username: string,
  password: string,
): Promise<string> {
  const response = await fetch(`${baseUrl}/_matrix/client/v3/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, auth: { type: 'm.login.dummy' } }),
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await response.json()) as { access_token?: string };
  if (!response.ok || !json.access_token) {
    throw new Error(`registering ${username} failed: ${response.status} ${JSON.stringify(json)}`);
  }
  return json.access_token;
}

/** The whoami body exactly as Weft sends it, for the bare server to replay. */
export async function whoamiBody(baseUrl: string, token: string): Promise<string> {
  const response = await fetch(baseUrl + WHOAMI, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`whoami failed: ${response.status} ${text}`);
  return text;
}

/**
 * Runs `request(i)` for i = 0 … count-1 from `concurrency` workers, each
 * waiting for its response before sending the next.
 */
async function pool(
  options: PoolOptions,
  request: (i: number) => Promise<boolean>,
): Promise<Measurement> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const start = performance.now();
  const deadline = start + options.maxSeconds * 1000;
  const worker = async () => {
    while (next < options.count && performance.now() < deadline) {
      const i = next++;
      const sent = performance.now();
      const ok = await request(i).catch(() => false);
      if (ok) latencies.push(performance.now() - sent);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  return {
    rate: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok: latencies.length,
    failed,
    seconds,
  };
}

async function postJson(url: string, body: string): Promise<boolean> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  // Read the body so the keep-alive connection can be reused.
  await response.arrayBuffer();
  return response.ok;
}

/** Nearest-rank percentile; NaN for no samples. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? NaN;
}

/** A Measurement from per-request latencies over a run of `seconds`. */
export function summarise(latencies: number[], seconds: number): Measurement {
  return {
    rate: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    ok: latencies.length,
    failed: 0,
    seconds,
  };
}

export interface BenchAccount {
  userId: string;
  token: string;
}

/** Registers `prefix0` … `prefix{count-1}` one after another (setup, not measured). */
export async function registerMany(
  baseUrl: string,
  prefix: string,
  count: number,
): Promise<BenchAccount[]> {
  const accounts: BenchAccount[] = [];
  for (let i = 0; i < count; i++) {
    const username = `${prefix}${i}`;
    const token = await registerUser(baseUrl, username, `bench-password-${i}`);
    accounts.push({ userId: `@${username}:localhost`, token });
  }
  return accounts;
}
