/**
 * `npm run bench`: starts Weft (and then a bare node:http server) as child
 * processes on loopback, runs the workloads from this process, and prints a
 * table. Shorter runs for smoke tests: BENCH_DURATION_S=1 BENCH_WARMUP_S=0
 * BENCH_LOGINS=5 BENCH_REGISTRATIONS=8 BENCH_MESSAGES=500 BENCH_ROOMS=20; one
 * group only: BENCH_ONLY=rooms (groups: startup, whoami, auth, rooms, sync, ephemeral, relations,
 * e2ee, media, push, search, sliding, appservice, federation). See docs/benchmarks.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { closeBenchConnections } from './http-client.js';
import { createRooms, roomMessages } from './rooms.js';
import { REPO_ROOT, startBareServer, startWeftServer, type ChildServer } from './server-process.js';
import { createPostgresDatabase } from '../test/support/postgres.js';
import { initialSync, messagesPaging, syncFanOut } from './sync.js';
import { keysClaim, toDeviceLatency } from './e2ee.js';
import { ephemeralFanOut } from './ephemeral.js';
import { mediaThroughput } from './media.js';
import { pushEvaluationCost } from './push.js';
import { threadedMessages } from './relations.js';
import { searchWorkload } from './search.js';
import { appServiceWorkload } from './appservice.js';
import { slidingSyncWorkload } from './sliding-sync.js';
import { crossServerLatency, inboundThroughput, PDUS_PER_TRANSACTION } from './federation.js';
import { median, startups, type StartupRuns } from './startup.js';
import {
  passwordLogins,
  registerUser,
  registrations,
  whoamiBody,
  whoamiLoad,
  type LoadOptions,
  type Measurement,
} from './workloads.js';

/** Each hash-bound workload stops after this long even if its count is not reached. */
const MAX_POOL_SECONDS = 120;
/** Share of a core used by other processes above which a load run is reported as disturbed. */
const DISTURBED = 0.1;

/** Workload groups; BENCH_ONLY=rooms (or a comma-separated list) runs only those. */
const GROUPS = [
  'startup',
  'whoami',
  'auth',
  'rooms',
  'sync',
  'ephemeral',
  'relations',
  'e2ee',
  'media',
  'push',
  'search',
  'sliding',
  'appservice',
  'federation',
] as const;
type Group = (typeof GROUPS)[number];

const settings = {
  groups: envGroups('BENCH_ONLY'),
  startups: envNumber('BENCH_STARTUPS', 5),
  durationS: envNumber('BENCH_DURATION_S', 10),
  warmupS: envNumber('BENCH_WARMUP_S', 2, 0),
  connections: envNumber('BENCH_CONNECTIONS', 32),
  logins: envNumber('BENCH_LOGINS', 50),
  registrations: envNumber('BENCH_REGISTRATIONS', 100),
  registerConcurrency: envNumber('BENCH_REGISTER_CONCURRENCY', 4),
  messages: envNumber('BENCH_MESSAGES', 5000),
  messageUsers: envNumber('BENCH_MESSAGE_USERS', 20),
  rooms: envNumber('BENCH_ROOMS', 200),
  fanOutUsers: envNumber('BENCH_FANOUT_USERS', 50),
  fanOutSends: envNumber('BENCH_FANOUT_SENDS', 20),
  fanOutWarmup: envNumber('BENCH_FANOUT_WARMUP', 20),
  syncRooms: envNumber('BENCH_SYNC_ROOMS', 100),
  syncMessagesPerRoom: envNumber('BENCH_SYNC_MESSAGES_PER_ROOM', 20),
  syncRuns: envNumber('BENCH_SYNC_RUNS', 5),
  pagingEvents: envNumber('BENCH_PAGING_EVENTS', 5000),
  ephemeralRounds: envNumber('BENCH_EPHEMERAL_ROUNDS', 20),
  threadRoots: envNumber('BENCH_THREAD_ROOTS', 200),
  claimUsers: envNumber('BENCH_CLAIM_USERS', 100),
  toDeviceSends: envNumber('BENCH_TO_DEVICE_SENDS', 20),
  pushMembers: envNumber('BENCH_PUSH_MEMBERS', 500),
  pushSends: envNumber('BENCH_PUSH_SENDS', 200),
  searchMessages: envNumber('BENCH_SEARCH_MESSAGES', 50_000),
  searchRooms: envNumber('BENCH_SEARCH_ROOMS', 100),
  slidingRooms: envNumber('BENCH_SLIDING_ROOMS', 500),
  slidingRuns: envNumber('BENCH_SLIDING_RUNS', 5),
  slidingWakes: envNumber('BENCH_SLIDING_WAKES', 20),
  /** A folder for a V8 CPU profile of the sliding sync Weft. */
  slidingCpuProfileDir: process.env.BENCH_SLIDING_CPU_PROF
    ? path.resolve(process.env.BENCH_SLIDING_CPU_PROF)
    : undefined,
  federationSends: envNumber('BENCH_FEDERATION_SENDS', 300),
  federationRuns: envNumber('BENCH_FEDERATION_RUNS', 5),
  federationTransactions: envNumber('BENCH_FEDERATION_TRANSACTIONS', 20),
  /** A folder for a V8 CPU profile of the Weft receiving the inbound /send transactions. */
  federationCpuProfileDir: process.env.BENCH_FEDERATION_CPU_PROF
    ? path.resolve(process.env.BENCH_FEDERATION_CPU_PROF)
    : undefined,
  roomConcurrency: envNumber('BENCH_ROOM_CONCURRENCY', 10),
  /** Adds a whoami run against a Weft with the default `log_requests: true`. */
  requestLogs: process.env.BENCH_REQUEST_LOGS === '1',
  /** A folder for the main Weft's V8 CPU profile (written when it stops). */
  cpuProfileDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
  /** 1: the main Weft runs with its Prometheus metrics on (their cost: compare with a run without). */
  metrics: process.env.BENCH_METRICS === '1',
  /** Where to write the results as JSON as well. */
  jsonPath: process.env.BENCH_JSON || undefined,
  /** postgres: the room, sync and E2EE workloads on SQLite, then on PostgreSQL, side by side. */
  database: databaseSetting(),
};

interface Row {
  workload: string;
  measurement: Measurement;
  notes: string;
}

const USER = 'bench';
const PASSWORD = 'bench-password';

/** Room messages from many users, and createRoom under concurrency. */
async function roomWorkloads(weft: ChildServer, rows: Row[], checks: string[]): Promise<void> {
  const warmup = Math.floor(settings.messages / 10);
  log(
    `${settings.messageUsers} users in one room send ${settings.messages} messages ` +
      `(after ${warmup} unmeasured)`,
  );
  const messages = await roomMessages(
    weft.url,
    {
      users: settings.messageUsers,
      messages: settings.messages,
      warmup,
      maxSeconds: MAX_POOL_SECONDS,
    },
    weft.cpuSeconds,
  );
  rows.push({
    workload: 'room messages',
    measurement: messages,
    notes: `${settings.messageUsers} users, c=${settings.messageUsers}, n=${messages.ok}; rate = msgs/s`,
  });
  checks.push(
    `room messages: ${messages.distinctEventIds} distinct event IDs for ${messages.ok} sends` +
      (messages.distinctEventIds === messages.ok ? '' : '  ← MISMATCH'),
    `room messages: ${messages.rate.toFixed(0)} msgs/s (goal ≥ 2000)` +
      (messages.rate >= 2000 ? '' : '  ← below goal'),
  );
  if (messages.distinctEventIds !== messages.ok) process.exitCode = 1;

  log(`${settings.rooms} createRoom at concurrency ${settings.roomConcurrency}`);
  const created = await createRooms(
    weft.url,
    {
      rooms: settings.rooms,
      concurrency: settings.roomConcurrency,
      maxSeconds: MAX_POOL_SECONDS,
    },
    weft.cpuSeconds,
  );
  rows.push({
    workload: 'createRoom',
    measurement: created,
    notes: `c=${settings.roomConcurrency}, n=${created.ok}, default options; rate = rooms/s`,
  });
  checks.push(`createRoom: ${created.distinctRoomIds} distinct room IDs for ${created.ok} rooms`);
  if (created.distinctRoomIds !== created.ok) process.exitCode = 1;
  closeBenchConnections();
}

/** Issue 4's workloads: sync fan-out, initial sync of a busy account, /messages paging. */
async function syncWorkloads(url: string, rows: Row[], checks: string[]): Promise<void> {
  const { fanOutUsers, fanOutSends, fanOutWarmup, syncRooms, syncMessagesPerRoom, syncRuns } =
    settings;
  log(
    `${fanOutUsers} users long-poll /sync in one room; ${fanOutSends} sends (after ${fanOutWarmup} unmeasured)`,
  );
  const fanOut = await syncFanOut(url, {
    users: fanOutUsers,
    sends: fanOutSends,
    warmupSends: fanOutWarmup,
  });
  rows.push({
    workload: 'sync fan-out',
    measurement: fanOut,
    notes: `${fanOutUsers} long-polls, n=${fanOut.ok} sends; latency = send → last poller has it`,
  });
  checks.push(
    `sync fan-out p99: ${fanOut.p99Ms.toFixed(1)} ms (goal < 25)` +
      (fanOut.p99Ms < 25 ? '' : '  ← above goal'),
  );

  log(`initial sync in ${syncRooms} rooms × ${syncMessagesPerRoom} messages, ${syncRuns} runs`);
  const initial = await initialSync(url, {
    rooms: syncRooms,
    messagesPerRoom: syncMessagesPerRoom,
    runs: syncRuns,
  });
  rows.push({
    workload: 'initial sync',
    measurement: initial,
    notes: `${syncRooms} rooms, timeline limit 10, n=${initial.ok}; p50 = median`,
  });
  checks.push(
    `initial sync median: ${initial.p50Ms.toFixed(1)} ms (goal < 100)` +
      (initial.p50Ms < 100 ? '' : '  ← above goal'),
  );

  log(`/messages back through ${settings.pagingEvents} events`);
  const paging = await messagesPaging(url, { events: settings.pagingEvents, pageSize: 100 });
  rows.push({
    workload: '/messages paging',
    measurement: paging,
    notes: `pages of 100, n=${paging.ok} events; rate = events/s, latency per page`,
  });
}

/** Issue 7: typing and read receipt fan-out to the members of one room. */
async function ephemeralWorkloads(url: string, rows: Row[]): Promise<void> {
  const users = settings.fanOutUsers;
  log(`typing and receipt fan-out to ${users - 1} long-polling members`);
  const { typing, receipts } = await ephemeralFanOut(url, {
    users,
    rounds: settings.ephemeralRounds,
  });
  const notes = `${users - 1} long-polls; latency = request → last member has it`;
  rows.push({ workload: 'typing fan-out', measurement: typing, notes });
  rows.push({ workload: 'receipt fan-out', measurement: receipts, notes });
}

/** Issue 5: /messages pages of thread roots (10 replies each) against plain messages. */
async function relationWorkloads(url: string, checks: string[]): Promise<void> {
  log(`/messages over ${settings.threadRoots} thread roots with 10 replies, and plain`);
  const threads = await threadedMessages(url, {
    roots: settings.threadRoots,
    repliesPerRoot: 10,
    pageSize: 50,
    rounds: 5,
  });
  checks.push(
    `threaded /messages pages: p50 ${threads.threadedP50Ms.toFixed(2)} ms against ` +
      `${threads.plainP50Ms.toFixed(2)} ms plain (ratio ${threads.ratio.toFixed(2)}, ${threads.pages} pages)`,
  );
}

/** Issue 8: one-time key claims, and to-device delivery to long-polling devices. */
async function e2eeWorkloads(url: string, rows: Row[]): Promise<void> {
  log(`/keys/claim: ${settings.claimUsers} users × 50 keys at concurrency 10`);
  const claims = await keysClaim(url, {
    users: settings.claimUsers,
    keysPerUser: 50,
    concurrency: 10,
  });
  rows.push({
    workload: '/keys/claim',
    measurement: claims,
    notes: `c=10, n=${claims.ok} claims; rate = claims/s`,
  });
  log(`to-device to 50 long-polling devices, ${settings.toDeviceSends} sends`);
  const toDevice = await toDeviceLatency(url, { devices: 50, sends: settings.toDeviceSends });
  rows.push({
    workload: 'to-device fan-out',
    measurement: toDevice,
    notes: `50 devices, n=${toDevice.ok}; latency = send → last device has it`,
  });
}

/** Issue 9: a 10 MB file up and down, and thumbnails of fresh 2-megapixel JPEGs. */
async function mediaWorkloads(url: string, rows: Row[]): Promise<void> {
  log('media: 10 MB uploads and downloads, thumbnails of 2 MP JPEGs');
  const media = await mediaThroughput(url, { fileBytes: 10_000_000, transfers: 10, images: 20 });
  rows.push({
    workload: 'media upload',
    measurement: media.upload,
    notes: '10 MB file, n=10, one at a time; rate = MB/s, latency per upload',
  });
  rows.push({
    workload: 'media download',
    measurement: media.download,
    notes: '10 MB file, n=10, one at a time; rate = MB/s, latency per download',
  });
  rows.push({
    workload: 'thumbnail (fresh 2 MP JPEG)',
    measurement: media.thumbnails,
    notes: `upload, then its first 320×240 thumbnail, n=${media.thumbnails.ok}; rate = thumbnails/s without the upload`,
  });
}

/**
 * Issue 6: send rate in a big room with push evaluation on, against off (own servers).
 * Returns the higher of the two servers' peak RSS.
 */
async function pushWorkload(checks: string[]): Promise<number> {
  const { pushMembers: members, pushSends: sends } = settings;
  log(`send rate in a room of ${members} members, push evaluation on and off`);
  const cost = await pushEvaluationCost({ members, sends, senders: 10 });
  checks.push(
    `push: ${cost.withPushPerSecond.toFixed(1)} msgs/s evaluated and counted with push on, ` +
      `${cost.withoutPushPerSecond.toFixed(1)} answered with it off (ratio ${cost.ratio.toFixed(1)}; ` +
      `${cost.evaluationsPerSecond.toFixed(0)} evaluations/s)`,
  );
  return cost.peakRssBytes;
}

/** Issue 24: messages into a room a service watches; delivery time, send rate with a slow service. */
async function appServiceWorkloads(rows: Row[], checks: string[]): Promise<void> {
  const messages = envNumber('BENCH_AS_MESSAGES', 1000);
  log(`${messages} messages into a room an application service watches`);
  const result = await appServiceWorkload(messages);
  const sendRow = (workload: string, rate: number, notes: string) =>
    rows.push({
      workload,
      measurement: {
        rate,
        p50Ms: NaN,
        p99Ms: NaN,
        ok: messages,
        failed: 0,
        seconds: messages / rate,
      },
      notes,
    });
  sendRow(
    'appservice: delivered',
    messages / result.deliverySeconds,
    `${messages} msgs until the service has all, ${result.transactions} transactions; rate = msgs/s`,
  );
  sendRow('appservice: sends, slow service', result.slowServiceSendRate, '100 ms per transaction');
  sendRow('appservice: sends, no service', result.noServiceSendRate, '4 in flight');
  checks.push(
    `appservice: ${messages} msgs delivered in ${result.deliverySeconds.toFixed(2)} s; sends ` +
      `${result.slowServiceSendRate.toFixed(0)}/s with a slow service vs ` +
      `${result.noServiceSendRate.toFixed(0)}/s with none`,
  );
  closeBenchConnections();
}

/** Issue 21: sends with the search index written, then /search on a common and a rare word. */
async function searchWorkloads(rows: Row[], checks: string[]): Promise<void> {
  const { searchMessages: messages, searchRooms: rooms } = settings;
  log(`${messages} messages over ${rooms} rooms by 10 senders, then /search`);
  const weft = await using(startWeftServer({ logRequests: false }));
  const result = await searchWorkload(weft.url, {
    messages,
    rooms,
    senders: 10,
    inFlight: 2,
    searches: 20,
  });
  await stopAndForget(weft);
  rows.push({
    workload: 'search: indexed sends',
    measurement: {
      rate: result.sendRate,
      p50Ms: NaN,
      p99Ms: NaN,
      ok: result.sent,
      failed: 0,
      seconds: result.sendSeconds,
    },
    notes: `${messages} msgs, ${rooms} rooms, 10 senders × 2 in flight; rate = msgs/s`,
  });
  for (const query of result.queries) {
    rows.push({
      workload: `search: ${query.term}, ${query.order}`,
      measurement: {
        rate: 1000 / query.p50Ms,
        p50Ms: query.p50Ms,
        p99Ms: query.p99Ms,
        ok: 20,
        failed: 0,
        seconds: 0,
      },
      notes: `sequential, count=${query.count}, 10 results; rate = 1000/p50`,
    });
    checks.push(
      `search ${query.term} (${query.order}): median ${query.p50Ms.toFixed(1)} ms (goal ≤ 20)` +
        (query.p50Ms <= 20 ? '' : '  ← above goal'),
    );
  }
  closeBenchConnections();
}

/**
 * Issue 20: Element X's room-list connection for an account in many rooms (20 messages
 * each): the first response (0–19), the list grown to the whole, a long-poll's wake-up.
 */
async function slidingWorkloads(rows: Row[], checks: string[]): Promise<void> {
  const { slidingRooms: rooms, slidingRuns: runCount } = settings;
  const wakes = settings.slidingWakes;
  log(`sliding sync: ${rooms} rooms × 20 messages, ${runCount} runs, ${wakes} wake-ups`);
  const weft = await using(
    startWeftServer({ logRequests: false, cpuProfileDir: settings.slidingCpuProfileDir }),
  );
  const result = await slidingSyncWorkload(weft.url, {
    rooms,
    messagesPerRoom: 20,
    runs: runCount,
    wakes,
  });
  await stopAndForget(weft);
  const measured = [
    ['first response (0–19)', result.firstResponse, 30],
    [`list grown to 0–${rooms - 1}`, result.fullList, undefined],
    ['long-poll wake-up', result.wakeUp, 10],
  ] as const;
  for (const [name, measurement, goalMs] of measured) {
    rows.push({
      workload: `sliding sync: ${name}`,
      measurement,
      notes: `${rooms} rooms, n=${measurement.ok}; p50 = median`,
    });
    if (goalMs === undefined) continue;
    checks.push(
      `sliding sync ${name}: median ${measurement.p50Ms.toFixed(1)} ms (goal ≤ ${goalMs})` +
        (measurement.p50Ms <= goalMs ? '' : '  ← above goal'),
    );
  }
  closeBenchConnections();
}

/**
 * Issue 25: a message from one Weft to a long-polling client on another, and
 * inbound /send throughput (transactions of 50 signed PDUs from a fake remote).
 */
async function federationWorkloads(rows: Row[], checks: string[]): Promise<void> {
  const { federationSends: sends, federationRuns: runs } = settings;
  const transactions = settings.federationTransactions;
  const warmupSends = Math.min(20, Math.ceil(sends / 10));
  log(`federation: ${sends} messages from one Weft to a /sync long-poll on another`);
  const pair: ChildServer[] = [];
  const latency = await crossServerLatency({ sends, warmupSends }, (server) => {
    live.add(server);
    pair.push(server);
  });
  closeBenchConnections();
  for (const server of pair) await stopAndForget(server);
  rows.push({
    workload: 'federation: send → remote /sync',
    measurement: latency,
    notes: `n=${latency.ok} sequential sends (after ${warmupSends}); latency = send on A → B's long-poll has it`,
  });

  const pdus = runs * transactions * PDUS_PER_TRANSACTION;
  log(
    `federation: ${runs} runs × ${transactions} inbound transactions of ${PDUS_PER_TRANSACTION} PDUs`,
  );
  let receiver: ChildServer | undefined;
  const inbound = await inboundThroughput(
    {
      runs,
      transactions,
      warmupTransactions: 10,
      cpuProfileDir: settings.federationCpuProfileDir,
    },
    (server) => {
      live.add(server);
      receiver = server;
    },
  );
  if (receiver) await stopAndForget(receiver);
  rows.push({
    workload: 'federation: inbound /send',
    measurement: inbound.transactions,
    notes:
      `${pdus} PDUs in ${runs} runs, 1 txn in flight; rate = PDUs/s (median run), ` +
      `latency per ${PDUS_PER_TRANSACTION}-PDU txn; server CPU ${percent(inbound.serverCpu)}`,
  });
  checks.push(
    `federation inbound /send: ${inbound.runRates.map((r) => r.toFixed(0)).join(', ')} PDUs/s ` +
      `per run (median ${inbound.transactions.rate.toFixed(0)})`,
  );
}

/** A table row for start-ups: p50 is the median, p99 the slowest start. */
function startupRow(workload: string, starts: StartupRuns): Row {
  const n = starts.readyMs.length;
  const total = starts.readyMs.reduce((sum, ms) => sum + ms, 0);
  return {
    workload,
    measurement: {
      rate: (n * 1000) / total,
      p50Ms: median(starts.readyMs),
      p99Ms: Math.max(...starts.readyMs),
      ok: n,
      failed: 0,
      seconds: total / 1000,
    },
    notes:
      `spawn → first /versions, n=${n}, p99 = slowest (goal ≤ 300 ms); ` +
      `CPU ${median(starts.cpuMs).toFixed(0)} ms, RSS ${mib(median(starts.idleRssBytes))} MiB ` +
      `1 s after (medians); rate = starts/s`,
  };
}

async function main(): Promise<void> {
  if (settings.database === 'postgres') return compareDatabases();
  const loadAtStart = loadavg()[0] ?? 0;
  const load: LoadOptions = {
    connections: settings.connections,
    durationS: settings.durationS,
    warmupS: settings.warmupS,
  };
  const runs = (group: Group) => settings.groups.includes(group);
  const rows: Row[] = [];
  const checks: string[] = [];
  const conc = `c=${settings.connections}, ${settings.durationS} s`;

  // First, while nothing else of the bench's is running.
  let emptyStarts: StartupRuns | undefined;
  if (runs('startup')) {
    log(`${settings.startups} starts on empty data folders`);
    emptyStarts = await startups(settings.startups);
  }

  log(`starting Weft (groups: ${settings.groups.join(', ')})`);
  // Kept when this Weft stops, for the start-ups on an existing data folder.
  const dataDir = mkdtempSync(path.join(tmpdir(), 'weft-bench-data-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  const weft = await using(
    startWeftServer({
      logRequests: false,
      cpuProfileDir: settings.cpuProfileDir,
      dataDir,
      configLines: settings.metrics ? ['metrics:', '  enabled: true', '  port: 0'] : undefined,
    }),
  );
  const idleRss = weft.rssBytes();
  const token = await registerUser(weft.url, USER, PASSWORD);
  const body = await whoamiBody(weft.url, token);

  let weftWhoami: Measurement | undefined;
  if (runs('whoami')) {
    log(`whoami on Weft (${conc})`);
    weftWhoami = await whoamiLoad(weft.url, token, load, weft.cpuSeconds);
    rows.push({ workload: 'whoami, Weft', measurement: weftWhoami, notes: conc });
  }

  if (runs('auth')) {
    log(`${settings.logins} sequential password logins`);
    const logins = await passwordLogins(weft.url, USER, PASSWORD, {
      count: settings.logins,
      concurrency: 1,
      maxSeconds: MAX_POOL_SECONDS,
    });
    rows.push({
      workload: 'password login',
      measurement: logins,
      notes: `sequential, n=${logins.ok}; rate = logins/s`,
    });

    log(`${settings.registrations} registrations at concurrency ${settings.registerConcurrency}`);
    const regs = await registrations(weft.url, 'bench-reg-', {
      count: settings.registrations,
      concurrency: settings.registerConcurrency,
      maxSeconds: MAX_POOL_SECONDS,
    });
    rows.push({
      workload: 'registration',
      measurement: regs,
      notes: `c=${settings.registerConcurrency}, n=${regs.ok}; rate = registrations/s`,
    });
  }

  if (runs('rooms')) await roomWorkloads(weft, rows, checks);

  if (runs('sync')) await syncWorkloads(weft.url, rows, checks);
  if (runs('ephemeral')) await ephemeralWorkloads(weft.url, rows);
  if (runs('relations')) await relationWorkloads(weft.url, checks);
  if (runs('e2ee')) await e2eeWorkloads(weft.url, rows);
  if (runs('media')) await mediaWorkloads(weft.url, rows);

  const rss = weft.rssBytes();
  const peakRss = weft.peakRssBytes();
  await stopAndForget(weft);

  let existingStarts: StartupRuns | undefined;
  if (runs('startup')) {
    log(`${settings.startups} starts on the data folder of the Weft that ran the workloads`);
    existingStarts = await startups(settings.startups, dataDir);
  }
  rmSync(dataDir, { recursive: true, force: true });
  if (emptyStarts) rows.push(startupRow('start-up, empty data folder', emptyStarts));
  if (existingStarts) rows.push(startupRow('start-up, used data folder', existingStarts));

  if (settings.requestLogs && runs('whoami')) {
    log(`whoami on Weft with log_requests: true (${conc})`);
    const logged = await using(startWeftServer({ logRequests: true }));
    const loggedToken = await registerUser(logged.url, USER, PASSWORD);
    const measurement = await whoamiLoad(logged.url, loggedToken, load, logged.cpuSeconds);
    rows.push({
      workload: 'whoami, Weft, request logs',
      measurement,
      notes: `${conc}; log_requests: true, log_level: info, to a file`,
    });
    await stopAndForget(logged);
  }

  let pushPeakRss: number | undefined;
  if (runs('push')) pushPeakRss = await pushWorkload(checks);
  if (runs('search')) await searchWorkloads(rows, checks);
  if (runs('appservice')) await appServiceWorkloads(rows, checks);
  if (runs('sliding')) await slidingWorkloads(rows, checks);
  if (runs('federation')) await federationWorkloads(rows, checks);

  let bareWhoami: Measurement | undefined;
  if (runs('whoami')) {
    log(`whoami on the bare node:http server (${conc})`);
    const bare = await using(startBareServer(token, body));
    bareWhoami = await whoamiLoad(bare.url, token, load, bare.cpuSeconds);
    rows.push({ workload: 'whoami, bare node:http', measurement: bareWhoami, notes: conc });
    await stopAndForget(bare);
  }

  console.log();
  console.log(
    `Node ${process.version}, ${cpus().length} CPU(s): ${cpus()[0]?.model ?? '?'}; ` +
      `load average at start ${loadAtStart.toFixed(2)} (other work on the machine skews results)`,
  );
  console.log(table(rows));
  console.log();
  const ratio = weftWhoami && bareWhoami ? weftWhoami.rate / bareWhoami.rate : undefined;
  if (ratio !== undefined) {
    console.log(
      `Weft/bare whoami throughput: ${(ratio * 100).toFixed(1)}% (goal ≥ 50%)` +
        (ratio >= 0.5 ? '' : '  ← below goal'),
    );
  }
  for (const check of checks) console.log(check);
  const idleAfterStart = emptyStarts ? median(emptyStarts.idleRssBytes) : undefined;
  console.log(
    'Weft RSS: ' +
      (idleAfterStart === undefined
        ? ''
        : `${mib(idleAfterStart)} MiB idle after start (median of the empty starts, goal ≤ 64); `) +
      `the workloads' Weft: ${mib(idleRss)} MiB at start, peak ${mib(peakRss)} MiB ` +
      `(VmHWM, goal ≤ 150), ${mib(rss)} MiB after the runs` +
      (pushPeakRss === undefined ? '' : `; push Wefts: peak ${mib(pushPeakRss)} MiB`),
  );

  const failures = rows.filter((row) => row.measurement.failed > 0);
  for (const row of failures) {
    console.log(`WARNING: ${row.workload}: ${row.measurement.failed} failed requests`);
  }
  for (const row of rows.filter((r) => (r.measurement.cpu?.other ?? 0) > DISTURBED)) {
    console.log(`WARNING: ${row.workload}: other processes used CPU during the run; rerun it`);
  }
  if (settings.jsonPath) {
    writeFileSync(
      settings.jsonPath,
      JSON.stringify(
        {
          settings,
          rows,
          ratio,
          checks,
          rssBytes: rss,
          idleRssBytes: idleRss,
          peakRssBytes: peakRss,
          pushPeakRssBytes: pushPeakRss,
          startups: { empty: emptyStarts, existing: existingStarts },
        },
        null,
        2,
      ),
    );
  }
  if (failures.length > 0) process.exitCode = 1;
}

/** The groups BENCH_DATABASE=postgres compares: those whose cost is mostly storage. */
const DATABASE_GROUPS: Group[] = ['rooms', 'sync', 'e2ee'];

/**
 * BENCH_DATABASE=postgres: the same workloads on a Weft on SQLite and on one on
 * PostgreSQL (a fresh database on BENCH_POSTGRES_URL, else on a throw-away
 * cluster started here), one after the other, printed side by side. The
 * servers' CPU columns count Weft only: PostgreSQL's own processes are "other".
 */
async function compareDatabases(): Promise<void> {
  const groups = DATABASE_GROUPS.filter((group) => settings.groups.includes(group));
  const cluster = process.env.BENCH_POSTGRES_URL ? undefined : startBenchCluster();
  const adminUrl = process.env.BENCH_POSTGRES_URL ?? cluster!.url;
  const results: Record<'sqlite' | 'postgres', Row[]> = { sqlite: [], postgres: [] };
  const checks: string[] = [];
  try {
    for (const backend of ['sqlite', 'postgres'] as const) {
      const database = backend === 'postgres' ? await createPostgresDatabase(adminUrl) : undefined;
      log(`starting Weft on ${backend} (groups: ${groups.join(', ')})`);
      const configLines = database
        ? ['database:', '  backend: postgres', `  url: ${JSON.stringify(database.url)}`]
        : [];
      const weft = await using(startWeftServer({ logRequests: false, configLines }));
      const rows = results[backend];
      if (groups.includes('rooms')) await roomWorkloads(weft, rows, checks);
      if (groups.includes('sync')) await syncWorkloads(weft.url, rows, checks);
      if (groups.includes('e2ee')) await e2eeWorkloads(weft.url, rows);
      closeBenchConnections();
      await stopAndForget(weft);
      await database?.drop();
    }
  } finally {
    cluster?.stop();
  }
  console.log();
  console.log(comparisonTable(results.sqlite, results.postgres));
  console.log();
  for (const check of checks) console.log(check);
  const failures = [...results.sqlite, ...results.postgres].filter((row) => row.measurement.failed);
  for (const row of failures) {
    console.log(`WARNING: ${row.workload}: ${row.measurement.failed} failed requests`);
  }
  if (failures.length > 0) process.exitCode = 1;
}

function comparisonTable(sqlite: Row[], postgres: Row[]): string {
  const header = [
    'workload',
    'SQLite /s',
    'PG /s',
    'PG/SQLite',
    'SQLite p50',
    'PG p50',
    'PG/SQLite',
  ];
  const cells = sqlite.map((row) => {
    const other = postgres.find((candidate) => candidate.workload === row.workload);
    const a = row.measurement;
    const b = other?.measurement;
    const ratio = (x: number | undefined, y: number) =>
      x === undefined || y === 0 ? '–' : (x / y).toFixed(2);
    return [
      row.workload,
      a.rate.toFixed(0),
      b ? b.rate.toFixed(0) : '–',
      ratio(b?.rate, a.rate),
      a.p50Ms.toFixed(2),
      b ? b.p50Ms.toFixed(2) : '–',
      ratio(b?.p50Ms, a.p50Ms),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** scripts/postgres-cluster.sh on a port of the bench's own. */
function startBenchCluster(): { url: string; stop(): void } {
  const script = path.join(REPO_ROOT, 'scripts/postgres-cluster.sh');
  const port = '55434';
  const started = spawnSync(script, ['start', port], { encoding: 'utf8' });
  if (started.status !== 0) {
    throw new Error(`BENCH_DATABASE=postgres: no PostgreSQL cluster started: ${started.stderr}`);
  }
  return {
    url: started.stdout.trim(),
    stop: () => spawnSync(script, ['stop', port], { stdio: 'inherit' }),
  };
}

function databaseSetting(): 'sqlite' | 'postgres' {
  const value = process.env.BENCH_DATABASE || 'sqlite';
  if (value !== 'sqlite' && value !== 'postgres') {
    throw new Error(`BENCH_DATABASE must be sqlite or postgres, got '${value}'`);
  }
  return value;
}

/** Children started and not yet stopped, so that an error still stops them. */
const live = new Set<ChildServer>();

async function using(starting: Promise<ChildServer>): Promise<ChildServer> {
  const server = await starting;
  live.add(server);
  return server;
}

async function stopAndForget(server: ChildServer): Promise<void> {
  live.delete(server);
  await server.stop();
}

function table(rows: Row[]): string {
  const header = ['workload', 'req/s', 'p50 ms', 'p99 ms', 'notes'];
  const cells = rows.map((row) => [
    row.workload,
    row.measurement.rate.toFixed(row.measurement.rate < 100 ? 1 : 0),
    row.measurement.p50Ms.toFixed(2),
    row.measurement.p99Ms.toFixed(2),
    [row.notes, cpuNote(row.measurement)].filter(Boolean).join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  // Numbers right-aligned, text left-aligned.
  const numeric = [false, true, true, true, false];
  const line = (cols: string[]) =>
    cols
      .map((c, i) => (numeric[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

/** Which side was saturated: with 2 cores, the server and the load generator compete. */
function cpuNote(measurement: Measurement): string {
  if (!measurement.cpu) return '';
  const { server, loadGenerator, other } = measurement.cpu;
  return `CPU: server ${percent(server)}, load gen. ${percent(loadGenerator)}, other ${percent(other)}`;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

/** A numeric setting from the environment; only the warm-up may be 0. */
function envNumber(name: string, fallback: number, min = Number.MIN_VALUE): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new Error(`${name} must be a number ${min === 0 ? '≥ 0' : '> 0'}, got '${raw}'`);
  }
  return value;
}

/** BENCH_ONLY: a comma-separated list of groups; all of them when unset. */
function envGroups(name: string): Group[] {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return [...GROUPS];
  const names = raw.split(',').map((g) => g.trim());
  for (const group of names) {
    if (!(GROUPS as readonly string[]).includes(group)) {
      throw new Error(`${name}: unknown group '${group}' (groups: ${GROUPS.join(', ')})`);
    }
  }
  return GROUPS.filter((g) => names.includes(g));
}

/** Progress goes to stderr, so stdout holds only the results. */
function log(message: string): void {
  console.error(`bench: ${message}`);
}

// Dying on a signal skips 'exit' handlers; exiting normally runs them and kills the children.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.all([...live].map((server) => server.stop()));
  });
