/**
 * Runs the built `weft` command (dist/cli/main.js) as a child process, for the
 * end-to-end tests that need a real process: restarts, SIGKILL, captured logs,
 * the CLI. Every child gets a temporary folder as its working directory and an
 * environment without the parent's WEFT_* variables. Whatever happens, no child
 * outlives the test file and no temporary folder stays behind (see below).
 *
 * `npm test` builds dist/ first; run `npm run build` before running these
 * tests on their own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Api } from './client.js';
import { testDatabase } from './server.js';

export const WEFT_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();

function cleanUpEverything(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

// Safety nets for a test that fails or times out before its own cleanup. No
// child may outlive the test file: a live child's pipes would keep the test
// process (and the whole run) waiting forever. Hence a file-level `after` hook,
// which node:test runs once every test of the file is done, passed or not, and
// an 'exit' handler for anything that ends the process earlier.
after(cleanUpEverything);
process.once('exit', cleanUpEverything);

export interface TempDir {
  path: string;
  /** Removes the folder and everything in it. */
  remove(): void;
}

export function makeTempDir(prefix = 'weft-proc-'): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  liveDirs.add(dir);
  return {
    path: dir,
    remove() {
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
}

/** The parent's environment without WEFT_* variables and test-runner markers, plus `env`. */
export function childEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('WEFT_') || key.startsWith('NODE_TEST')) continue;
    result[key] = value;
  }
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete result[key];
    else result[key] = value;
  }
  return result;
}

export interface SpawnOptions {
  /** Extra environment variables (WEFT_* and others); `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Working directory of the child (required: keeps ./weft.yaml and ./data out of the repo). */
  cwd: string;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
}

function spawnWeft(args: string[], options: SpawnOptions): ChildProcess {
  if (!existsSync(WEFT_MAIN)) {
    throw new Error(`${WEFT_MAIN} is missing: run \`npm run build\` first`);
  }
  const child = spawn(process.execPath, [WEFT_MAIN, ...args], {
    cwd: options.cwd,
    env: childEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  child.stdin?.end(options.input ?? '');
  return child;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a `weft` command to completion. A command that is still running after
 * `timeoutMs` is killed and the promise rejects (a command that should fail
 * but starts a server instead must not hang the test).
 */
export function runWeft(
  args: string[],
  options: SpawnOptions & { timeoutMs?: number },
): Promise<RunResult> {
  const child = spawnWeft(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `weft ${args.join(' ')} still running after ${timeoutMs} ms\n` +
            `stdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // 'close', not 'exit': all output has been read by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export interface WeftProcess {
  /** Base URL from the 'Weft is listening' log line. */
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far, interleaved as received. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** The stdout lines that are JSON objects (pino's log lines). */
  logLines(): Record<string, unknown>[];
  /** Resolves when the child has exited and its output has been read. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends SIGKILL and waits for the child to be gone. */
  kill(): Promise<void>;
  /** Sends SIGTERM (graceful shutdown), SIGKILL after `graceMs`; resolves with the exit status. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `weft start` and waits until it logs 'Weft is listening'. Pass
 * WEFT_PORT=0 in `env` to let the server pick a free port; the URL is read
 * from the log line, so the log level must let info lines through.
 */
export async function startWeftProcess(
  options: SpawnOptions & { readyTimeoutMs?: number },
): Promise<WeftProcess> {
  const level = options.env?.WEFT_LOG_LEVEL;
  if (level !== undefined && ['warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new Error(`WEFT_LOG_LEVEL=${level} hides the 'Weft is listening' line`);
  }
  const child = spawnWeft(['start'], options);
  let output = '';
  let stdout = '';
  let stderr = '';
  let pendingLine = '';
  let resolveUrl: (url: string) => void = () => {};
  const urlSeen = new Promise<string>((resolve) => (resolveUrl = resolve));

  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    output += chunk;
    pendingLine += chunk;
    const lines = pendingLine.split('\n');
    pendingLine = lines.pop() ?? '';
    for (const line of lines) {
      const entry = parseJsonLine(line);
      if (entry?.msg === 'Weft is listening' && typeof entry.url === 'string') {
        resolveUrl(entry.url);
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    output += chunk;
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
    }
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };

  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const url = await Promise.race([
    urlSeen,
    exited.then(({ code, signal }) => {
      throw new Error(
        `weft start exited before listening (code ${code}, signal ${signal})\n${output}`,
      );
    }),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`weft start not listening after ${readyTimeoutMs} ms\n${output}`)),
        readyTimeoutMs,
      );
    }),
  ]).catch(async (err: unknown) => {
    await kill();
    throw err;
  });
  clearTimeout(timer);

  return {
    url,
    pid: child.pid ?? -1,
    child,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () =>
      stdout
        .split('\n')
        .map(parseJsonLine)
        .filter((entry): entry is Record<string, unknown> => entry !== undefined),
    exited,
    kill,
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const forced = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(forced);
      }
    },
  };
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * For a suite that kills and restarts the server on one data folder: `start()`
 * launches `weft start` there (any free port, no rate limits); `api` speaks to
 * the latest one started; every server is killed and the folder removed after
 * the suite.
 */
export function restartableServer(): { start(): Promise<WeftProcess>; api: Api } {
  const dir = makeTempDir();
  const env: Record<string, string> = {
    WEFT_CONFIG: path.join(dir.path, 'weft.yaml'),
    WEFT_DATA_DIR: path.join(dir.path, 'data'),
    WEFT_PORT: '0',
    WEFT_RATE_LIMITS: 'off',
  };
  const servers: WeftProcess[] = [];
  let database: Awaited<ReturnType<typeof testDatabase>> | undefined;
  after(async () => {
    for (const server of servers) await server.kill();
    await database?.drop();
    dir.remove();
  });
  const api = new Api(() => {
    const latest = servers.at(-1);
    if (!latest) throw new Error('No server started yet');
    return latest.url;
  });
  return {
    start: async () => {
      if (!database) {
        database = await testDatabase();
        const url = database.overrides.database?.url;
        if (url) env.WEFT_DATABASE_URL = url;
      }
      const server = await startWeftProcess({ cwd: dir.path, env });
      servers.push(server);
      return server;
    },
    api,
  };
}
