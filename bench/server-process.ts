/**
 * Servers under test run as child processes, so that the load generator in the
 * bench process does not share an event loop (or a heap) with them, and so
 * that their memory can be read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
/** Between readiness polls: fine enough to time a start-up of a few hundred ms. */
const READY_POLL_MS = 5;

export interface ChildServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  pid: number;
  /** Milliseconds from the spawn to the first 200 answer to /versions. */
  readyMs: number;
  /** CPU time (user + system, all threads) the process had used by then, in seconds. */
  readyCpuSeconds: number;
  /** Resident set size in bytes, from /proc/<pid>/status. */
  rssBytes(): number;
  /** The highest resident set size so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** User + system CPU time the process has used so far, from /proc/<pid>/stat. */
  cpuSeconds(): number;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its temporary folder. */
  stop(): Promise<void>;
}

export interface WeftOptions {
  /** The per-request log line; on in the default config, off for the main runs. */
  logRequests: boolean;
  /** When set, the server runs with `--cpu-prof` and writes its profile here on exit. */
  cpuProfileDir?: string;
  /** More YAML lines for the config file (e.g. `push:` / `  enabled: false`). */
  configLines?: string[];
  /**
   * A data folder to use instead of a fresh one in the temporary folder: it is kept when
   * the server stops (the caller removes it), so that a later Weft can start on it.
   */
  dataDir?: string;
  /** The port to listen on, when the caller must know it first (two federating Wefts); else a free one. */
  port?: number;
}

/** Every child still running, and its temporary folder, for when the bench dies early. */
const running = new Map<ChildProcess, string>();

process.on('exit', () => {
  for (const [child, dir] of running) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Starts `node dist/cli/main.js start` with a fresh data folder and config file. */
export async function startWeftServer(options: WeftOptions): Promise<ChildServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-'));
  const port = options.port ?? (await freePort());
  const configPath = path.join(dir, 'weft.yaml');
  // Request lines are logged at `info`, so that level is needed to see their cost.
  const logLevel = options.logRequests ? 'info' : 'warn';
  writeFileSync(
    configPath,
    [
      'bind: "127.0.0.1"',
      `port: ${port}`,
      `data_dir: ${JSON.stringify(options.dataDir ?? path.join(dir, 'data'))}`,
      `log_level: ${logLevel}`,
      `log_requests: ${options.logRequests}`,
      ...(options.configLines ?? []),
      '',
    ].join('\n'),
  );
  const nodeArgs = options.cpuProfileDir
    ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfileDir]
    : [];
  return startChild({
    dir,
    port,
    args: [...nodeArgs, path.join(REPO_ROOT, 'dist/cli/main.js'), 'start'],
    env: { WEFT_CONFIG: configPath, WEFT_RATE_LIMITS: 'off' },
  });
}

/** Starts bench/bare-server.ts, which answers whoami with `body` for the one `token`. */
export async function startBareServer(token: string, body: string): Promise<ChildServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-bench-bare-'));
  const port = await freePort();
  return startChild({
    dir,
    port,
    args: ['--import', 'tsx', path.join(REPO_ROOT, 'bench/bare-server.ts')],
    env: { BARE_PORT: String(port), BARE_TOKEN: token, BARE_BODY: body },
  });
}

interface ChildSpec {
  dir: string;
  port: number;
  args: string[];
  env: Record<string, string>;
}

async function startChild(spec: ChildSpec): Promise<ChildServer> {
  // Output goes to a file, not a pipe: draining a pipe would cost the bench
  // process CPU, and a full pipe would stall the server's synchronous logging.
  const logPath = path.join(spec.dir, 'output.log');
  const logFd = openSync(logPath, 'a');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, spec.args, {
    // The repo root, so that `--import tsx` resolves.
    cwd: REPO_ROOT,
    env: { ...environmentWithoutWeft(), ...spec.env },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  running.set(child, spec.dir);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const url = `http://127.0.0.1:${spec.port}`;
  const server: ChildServer = {
    url,
    pid: child.pid ?? -1,
    readyMs: NaN,
    readyCpuSeconds: NaN,
    rssBytes: () => readRssBytes(child.pid ?? -1),
    peakRssBytes: () => readStatusBytes(child.pid ?? -1, 'VmHWM'),
    cpuSeconds: () => readCpuSeconds(child.pid ?? -1),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      rmSync(spec.dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilReady(spec.port, exited);
    server.readyMs = performance.now() - spawnedAt;
    server.readyCpuSeconds = server.cpuSeconds();
  } catch (err) {
    const output = readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
    await server.stop();
    throw new Error(`${(err as Error).message}\n--- server output ---\n${output}`, {
      cause: err,
    });
  }
  return server;
}

/**
 * Polls /_matrix/client/versions every few milliseconds until it answers 200, the process
 * dies, or time runs out. node:http without keep-alive: cheap for the bench process, which
 * shares the CPU with the server starting (fetch() would first load undici).
 */
async function waitUntilReady(port: number, exited: Promise<void>): Promise<void> {
  let dead = false;
  void exited.then(() => (dead = true));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (dead) throw new Error(`server on port ${port} exited during startup`);
    if (await answersVersions(port)) return;
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  throw new Error(`server on port ${port} not ready after ${READY_TIMEOUT_MS} ms`);
}

function answersVersions(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(
      { host: '127.0.0.1', port, path: '/_matrix/client/versions', agent: false, timeout: 1_000 },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode === 200));
        response.on('error', () => resolve(false));
      },
    );
    request.on('timeout', () => request.destroy());
    // Not listening yet (ECONNREFUSED), or the timeout above.
    request.on('error', () => resolve(false));
  });
}

/** The bench's environment minus WEFT_*, so a developer's shell cannot change the setup. */
function environmentWithoutWeft(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('WEFT_')),
  );
}

/** A port that was free a moment ago (the kernel picks it; the race is harmless on loopback). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function readRssBytes(pid: number): number {
  return readStatusBytes(pid, 'VmRSS');
}

/** A `kB` field of /proc/<pid>/status (VmRSS: resident now, VmHWM: the peak), in bytes. */
export function readStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** Linux's USER_HZ, the unit of /proc/<pid>/stat times; 100 on every mainstream architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

export function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it do not.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Busy CPU time of the whole machine, all cores, from /proc/stat: shows interference. */
export function readMachineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // "cpu user nice system idle iowait irq softirq steal …": everything up to steal
  // (time the hypervisor gave to others) except idle and iowait.
  const ticks = line.split(/\s+/).slice(1, 9).map(Number);
  const busy = ticks.reduce((sum, t, i) => (i === 3 || i === 4 ? sum : sum + t), 0);
  return busy / CLOCK_TICKS_PER_SECOND;
}
