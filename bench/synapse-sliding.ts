/**
 * Issue 20's comparison: bench/sliding-sync.ts's workload (an account in 500
 * rooms of 20 messages; Element X's room list: first response, the list grown
 * to the whole, a long-poll's wake-up) against Weft and a real Synapse
 * (scripts/synapse-peer.sh, root only) on this machine, on SQLite and on
 * PostgreSQL, one server at a time. See docs/interop.md.
 *
 *   node scripts/build.mjs && node --import tsx bench/synapse-sliding.ts
 *
 * BENCH_SLIDING_TARGETS=weft,weft-postgres,synapse,synapse-postgres (the default:
 * all four), BENCH_SLIDING_ROOMS=500, BENCH_SLIDING_RUNS=5; BENCH_SLIDING_TARGET=
 * http://host:port adds a server already running (the account comes from its
 * /register). PostgreSQL: a cluster of scripts/postgres-cluster.sh on
 * BENCH_POSTGRES_PORT (55510), stopped at the end.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeBenchConnections } from './http-client.js';
import {
  REPO_ROOT,
  readCpuSeconds,
  readMachineCpuSeconds,
  startWeftServer,
} from './server-process.js';
import { slidingSyncWorkload, type SlidingSyncResults } from './sliding-sync.js';
import type { BenchAccount } from './workloads.js';
import { createPostgresDatabase } from '../test/support/postgres.js';
import {
  createSynapseDatabase,
  freePortPair,
  installSynapse,
  startSynapsePeer,
} from '../interop/synapse-peer.js';

const TARGETS = ['weft', 'weft-postgres', 'synapse', 'synapse-postgres'] as const;
type Target = (typeof TARGETS)[number] | 'url';

const settings = {
  targets: targetList(),
  rooms: Number(process.env.BENCH_SLIDING_ROOMS || 500),
  runs: Number(process.env.BENCH_SLIDING_RUNS || 5),
  url: process.env.BENCH_SLIDING_TARGET || undefined,
  postgresPort: process.env.BENCH_POSTGRES_PORT || '55510',
  setupConcurrency: 8,
};

/** A server ready to be measured, and how to put it away. */
interface Subject {
  url: string;
  account?: BenchAccount;
  /** CPU seconds the server's process has used so far (NaN when unknown). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

interface Outcome {
  target: Target;
  results: SlidingSyncResults;
  setupSeconds: number;
  serverCpuSeconds: number;
  /** Cores busy with other processes meanwhile (PostgreSQL's count here): other load disturbs. */
  otherCores: number;
}

async function main(): Promise<void> {
  const outcomes: Outcome[] = [];
  const cluster = settings.targets.some((t) => t.endsWith('-postgres'))
    ? startCluster()
    : undefined;
  try {
    for (const target of settings.targets) outcomes.push(await measure(target, cluster?.url));
  } finally {
    closeBenchConnections();
    cluster?.stop();
  }
  console.log();
  console.log(table(outcomes));
}

async function measure(target: Target, adminUrl: string | undefined): Promise<Outcome> {
  log(`${target}: starting`);
  const subject = await start(target, adminUrl);
  try {
    const started = performance.now();
    const cpuBefore = subject.cpuSeconds();
    const machineBefore = readMachineCpuSeconds();
    const ownBefore = process.cpuUsage();
    const results = await slidingSyncWorkload(subject.url, {
      rooms: settings.rooms,
      messagesPerRoom: 20,
      runs: settings.runs,
      account: subject.account,
      setupConcurrency: settings.setupConcurrency,
    });
    const measuredSeconds = results.firstResponse.seconds + results.wakeUp.seconds;
    const totalSeconds = (performance.now() - started) / 1000;
    log(`${target}: done in ${totalSeconds.toFixed(0)} s`);
    const serverCpuSeconds = subject.cpuSeconds() - cpuBefore;
    const own = process.cpuUsage(ownBefore);
    const ownSeconds = (own.user + own.system) / 1e6;
    const machineSeconds = readMachineCpuSeconds() - machineBefore;
    const otherSeconds =
      machineSeconds - ownSeconds - (Number.isNaN(serverCpuSeconds) ? 0 : serverCpuSeconds);
    return {
      target,
      results,
      setupSeconds: totalSeconds - measuredSeconds,
      serverCpuSeconds,
      otherCores: Math.max(0, otherSeconds / totalSeconds),
    };
  } finally {
    closeBenchConnections();
    await subject.stop();
  }
}

async function start(target: Target, adminUrl: string | undefined): Promise<Subject> {
  if (target === 'url') {
    return { url: settings.url!, cpuSeconds: () => NaN, stop: async () => {} };
  }
  if (target === 'weft' || target === 'weft-postgres') return startWeft(target, adminUrl);
  return startSynapse(target === 'synapse-postgres' ? adminUrl : undefined);
}

async function startWeft(target: Target, adminUrl: string | undefined): Promise<Subject> {
  const database = target === 'weft-postgres' ? await createPostgresDatabase(adminUrl!) : undefined;
  const configLines = database
    ? ['database:', '  backend: postgres', `  url: ${JSON.stringify(database.url)}`]
    : [];
  const weft = await startWeftServer({ logRequests: false, configLines });
  return {
    url: weft.url,
    cpuSeconds: weft.cpuSeconds,
    stop: async () => {
      await weft.stop();
      await database?.drop();
    },
  };
}

/** Synapse as installed, logging warnings only (as the Weft under test does). */
async function startSynapse(adminUrl: string | undefined): Promise<Subject> {
  const installMs = await installSynapse();
  if (installMs > 5_000) log(`Synapse installed in ${(installMs / 1000).toFixed(0)} s`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-synapse-'));
  const postgresUrl = adminUrl
    ? await createSynapseDatabase(adminUrl, `synapse_bench_${process.pid}`)
    : undefined;
  const port = await freePortPair();
  const peer = await startSynapsePeer({
    serverName: `synapse.test:${port}`,
    port,
    dataDir,
    postgresUrl,
    logLevel: 'WARNING',
  });
  log(`Synapse ready in ${(peer.startMs / 1000).toFixed(1)} s at ${peer.clientUrl}`);
  const user = await peer.register('sliding0', 'bench-password-0').catch(async (err: unknown) => {
    await peer.stop();
    throw err;
  });
  return {
    url: peer.clientUrl,
    account: { userId: user.userId, token: user.accessToken },
    cpuSeconds: () => readCpuSeconds(peer.pid),
    stop: async () => {
      await peer.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function startCluster(): { url: string; stop(): void } {
  const script = path.join(REPO_ROOT, 'scripts/postgres-cluster.sh');
  const started = spawnSync(script, ['start', settings.postgresPort], { encoding: 'utf8' });
  if (started.status !== 0) throw new Error(`no PostgreSQL cluster: ${started.stderr}`);
  return {
    url: started.stdout.trim(),
    stop: () => spawnSync(script, ['stop', settings.postgresPort], { stdio: 'inherit' }),
  };
}

function table(outcomes: Outcome[]): string {
  const header = [
    'server',
    'first 0–19 p50',
    'p99',
    `grown to 0–${settings.rooms - 1} p50`,
    'p99',
    'wake-up p50',
    'p99',
    'server CPU s (with setup)',
    'setup s',
    'other cores',
  ];
  const ms = (value: number) => value.toFixed(1);
  const rows = outcomes.map(({ target, results, serverCpuSeconds, setupSeconds, otherCores }) => [
    target,
    ms(results.firstResponse.p50Ms),
    ms(results.firstResponse.p99Ms),
    ms(results.fullList.p50Ms),
    ms(results.fullList.p99Ms),
    ms(results.wakeUp.p50Ms),
    ms(results.wakeUp.p99Ms),
    Number.isNaN(serverCpuSeconds) ? '–' : serverCpuSeconds.toFixed(1),
    setupSeconds.toFixed(0),
    otherCores.toFixed(2),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    `${settings.rooms} rooms × 20 messages, ${settings.runs} runs; milliseconds`,
    line(header),
    line(header.map(() => '---')),
    ...rows.map(line),
  ].join('\n');
}

/** BENCH_SLIDING_TARGETS, or all four; only the URL when BENCH_SLIDING_TARGET alone is given. */
function targetList(): Target[] {
  const url = process.env.BENCH_SLIDING_TARGET;
  const listed = process.env.BENCH_SLIDING_TARGETS;
  if (url && !listed) return ['url'];
  const names = (listed || TARGETS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(TARGETS as readonly string[]).includes(name)) {
      throw new Error(`BENCH_SLIDING_TARGETS: unknown ${name} (known: ${TARGETS.join(', ')})`);
    }
  }
  const targets = names as Target[];
  return url ? [...targets, 'url'] : targets;
}

function log(message: string): void {
  console.error(`[synapse-sliding] ${message}`);
}

await main();
