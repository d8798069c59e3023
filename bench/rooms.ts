/**
 * The room workloads: many users sending messages into one room, and
 * createRoom at a fixed concurrency, each as one sequential stream of requests
 * per user (or worker) over a keep-alive connection. Messages go through the
 * minimal client in raw-http.ts, the rest (setup, createRoom) through node:http.
 */
import { CLIENT, callJson } from './http-client.js';
import { RawHttpConnection } from './raw-http.js';
import { registerUser, withCpu, percentile, type Measurement } from './workloads.js';

const REQUEST_TIMEOUT_MS = 30_000;

export interface MessageOptions {
  users: number;
  messages: number;
  /** Unmeasured messages sent first, the same way (JIT warm-up). */
  warmup: number;
  /** Stop starting new sends after this long, whatever `messages` says. */
  maxSeconds: number;
}

export interface MessageResult extends Measurement {
  /** Distinct event IDs among the successful measured sends (should equal `ok`). */
  distinctEventIds: number;
}

/**
 * Registers `users` users, has the first create a `public_chat` room and the
 * others join it, then sends `messages` m.room.message events: one stream of
 * sequential PUT /send requests per user, all users at once.
 */
export async function roomMessages(
  baseUrl: string,
  options: MessageOptions,
  serverCpuSeconds: () => number,
): Promise<MessageResult> {
  const tokens = await setupUsers(baseUrl, 'bench-msg-', options.users);
  const owner = tokens[0]!;
  const roomId = await createRoom(baseUrl, owner, { preset: 'public_chat', name: 'bench' });
  await Promise.all(
    tokens.slice(1).map(async (token) => {
      const { ok, status, json } = await call(
        baseUrl,
        'POST',
        `/rooms/${encodeURIComponent(roomId)}/join`,
        token,
        {},
      );
      if (!ok) throw new Error(`join failed: ${status} ${JSON.stringify(json)}`);
    }),
  );

  const sendPath = `${CLIENT}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/`;
  const run = (label: string, count: number, eventIds: string[]) =>
    sendMessages(
      { baseUrl, sendPath, tokens, count, maxSeconds: options.maxSeconds, label },
      eventIds,
    );

  const warmupIds: string[] = [];
  if (options.warmup > 0) await run('warmup', options.warmup, warmupIds);
  const eventIds: string[] = [];
  const measurement = await withCpu(serverCpuSeconds, () =>
    run('measured', options.messages, eventIds),
  );
  const distinct = new Set([...warmupIds, ...eventIds]);
  return {
    ...measurement,
    // Every ID counts once across warm-up and measured sends; each send was a new txnId.
    distinctEventIds: distinct.size - new Set(warmupIds).size,
  };
}

interface SendRun {
  baseUrl: string;
  /** `/_matrix/client/v3/rooms/{roomId}/send/m.room.message/`; the txnId follows. */
  sendPath: string;
  tokens: string[];
  count: number;
  maxSeconds: number;
  /** Part of every txnId, so that runs never share one. */
  label: string;
}

/**
 * Sends `count` messages, split evenly over the users, each user one request
 * at a time on its own connection with its own txnIds, through the minimal
 * client in raw-http.ts (see there why not autocannon or node:http).
 */
async function sendMessages(run: SendRun, eventIds: string[]): Promise<Measurement> {
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  // Bounded in time like every other loop: no send starts after the deadline.
  const deadline = start + run.maxSeconds * 1000;
  await Promise.all(
    run.tokens.map(async (token, user) => {
      const share = shareOf(run.count, run.tokens.length, user);
      const sends = userSends(run, token, `${run.label}-${user}`);
      for (let n = 0; n < share && performance.now() < deadline; n++) {
        const sentAt = performance.now();
        const eventId = await sends.next(n);
        if (eventId === undefined) {
          failed++;
          continue;
        }
        latencies.push(performance.now() - sentAt);
        eventIds.push(eventId);
      }
      sends.close();
    }),
  );
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

/**
 * One user's sends on one connection (opened again after a failure); txnIds
 * are `bench-<user>-<n>`, unique per run. `next` resolves with the event ID,
 * or undefined if the send failed.
 */
function userSends(run: SendRun, token: string, user: string) {
  let connection: Promise<RawHttpConnection> | undefined;
  const headers = [`Authorization: Bearer ${token}`, 'Content-Type: application/json'];
  return {
    async next(n: number): Promise<string | undefined> {
      const body = JSON.stringify({ msgtype: 'm.text', body: `message ${n} from ${user}` });
      try {
        connection ??= RawHttpConnection.open(run.baseUrl);
        const path = `${run.sendPath}bench-${user}-${n}`;
        const response = await (
          await connection
        ).request('PUT', path, headers, body, REQUEST_TIMEOUT_MS);
        return response.status >= 200 && response.status < 300
          ? eventIdOf(response.body)
          : undefined;
      } catch {
        void connection?.then(
          (c) => c.close(),
          () => {},
        );
        connection = undefined;
        return undefined;
      }
    },
    close(): void {
      void connection?.then(
        (c) => c.close(),
        () => {},
      );
    },
  };
}

/** User `index`'s part of `total` requests split over `users`, the remainder to the first ones. */
function shareOf(total: number, users: number, index: number): number {
  return Math.floor(total / users) + (index < total % users ? 1 : 0);
}

function eventIdOf(body: string): string | undefined {
  try {
    const eventId = (JSON.parse(body) as { event_id?: unknown }).event_id;
    return typeof eventId === 'string' ? eventId : undefined;
  } catch {
    return undefined;
  }
}

export interface CreateRoomOptions {
  rooms: number;
  concurrency: number;
  maxSeconds: number;
}

export interface CreateRoomResult extends Measurement {
  distinctRoomIds: number;
}

/** `POST /createRoom` with an empty body (default options) from `concurrency` workers of one user. */
export async function createRooms(
  baseUrl: string,
  options: CreateRoomOptions,
  serverCpuSeconds: () => number,
): Promise<CreateRoomResult> {
  const [token] = await setupUsers(baseUrl, 'bench-rooms-', 1);
  const workers = Array.from({ length: options.concurrency }, () => token!);
  const roomIds: string[] = [];
  const measurement = await withCpu(serverCpuSeconds, () =>
    streams(workers, options.rooms, options.maxSeconds, async (t) => {
      const { ok, json } = await call(baseUrl, 'POST', '/createRoom', t, {});
      const roomId = (json as { room_id?: unknown } | undefined)?.room_id;
      if (ok && typeof roomId === 'string') roomIds.push(roomId);
      return ok && typeof roomId === 'string';
    }),
  );
  return { ...measurement, distinctRoomIds: new Set(roomIds).size };
}

/** Registers `count` users, 4 at a time (argon2 makes each take tens of ms). */
async function setupUsers(baseUrl: string, prefix: string, count: number): Promise<string[]> {
  const tokens: string[] = new Array<string>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      tokens[i] = await registerUser(baseUrl, `${prefix}${i}`, `bench-password-${i}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
  return tokens;
}

async function createRoom(baseUrl: string, token: string, body: object): Promise<string> {
  const { ok, status, json } = await call(baseUrl, 'POST', '/createRoom', token, body);
  const roomId = (json as { room_id?: unknown } | undefined)?.room_id;
  if (!ok || typeof roomId !== 'string') {
    throw new Error(`createRoom failed: ${status} ${JSON.stringify(json)}`);
  }
  return roomId;
}

/**
 * Runs `count` requests from one sequential stream per entry of `tokens`; each
 * stream waits for its response before sending the next. Latency is measured
 * per successful request.
 */
async function streams(
  tokens: string[],
  count: number,
  maxSeconds: number,
  request: (token: string, i: number) => Promise<boolean>,
): Promise<Measurement> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const start = performance.now();
  const deadline = start + maxSeconds * 1000;
  const worker = async (token: string) => {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      const sent = performance.now();
      const ok = await request(token, i).catch(() => false);
      if (ok) latencies.push(performance.now() - sent);
      else failed++;
    }
  };
  await Promise.all(tokens.map(worker));
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

function call(baseUrl: string, method: string, path: string, token: string, body: object) {
  return callJson(method, baseUrl + CLIENT + path, token, body, REQUEST_TIMEOUT_MS);
}
