/**
 * The push workload (issue 6): the cost of push rule evaluation on the write
 * path. In a room of `members` members, `sends` messages are sent by a few
 * senders at once; the time runs until every send is answered and the last
 * message is counted in a member's unread notifications (evaluation is
 * asynchronous, so "answered" alone would not see its cost). The same run
 * against a Weft with `push.enabled: false` (ending when the sends are
 * answered) gives the ratio. Setup (registration, joins) is not measured.
 */
import { clientRequest } from './http-client.js';
import { startWeftServer } from './server-process.js';
import { registerUser } from './workloads.js';

/** Registrations and joins run this many at a time during setup. */
const SETUP_CONCURRENCY = 8;

export interface PushCostOptions {
  /** Room members, the senders included (the issue asks for 500). */
  members: number;
  sends: number;
  /** Members sending at once, each one message after the other. */
  senders: number;
}

export interface PushCostResult {
  /** Messages per second, evaluated and counted, with push on. */
  withPushPerSecond: number;
  /** Messages per second, answered, with push evaluation off. */
  withoutPushPerSecond: number;
  /** Off over on: 1 means evaluation costs nothing, 2 that it halves the send rate. */
  ratio: number;
  /** Notification rows written per second with push on (members − 1 per message). */
  evaluationsPerSecond: number;
  /** The higher peak RSS (VmHWM) of the two servers, in bytes. */
  peakRssBytes: number;
}

/** Starts a Weft with push on and one with it off, measures both, stops them. */
export async function pushEvaluationCost(options: PushCostOptions): Promise<PushCostResult> {
  const withPush = await startWeftServer({ logRequests: false });
  const withoutPush = await startWeftServer({
    logRequests: false,
    configLines: ['push:', '  enabled: false'],
  });
  try {
    const on = await sendRateInBigRoom(withPush.url, options, true);
    const off = await sendRateInBigRoom(withoutPush.url, options, false);
    return {
      withPushPerSecond: on,
      withoutPushPerSecond: off,
      ratio: off / on,
      evaluationsPerSecond: on * (options.members - 1),
      peakRssBytes: Math.max(withPush.peakRssBytes(), withoutPush.peakRssBytes()),
    };
  } finally {
    await withPush.stop();
    await withoutPush.stop();
  }
}

/** Messages per second into a room of `members`; with `waitForCounts`, until counted too. */
export async function sendRateInBigRoom(
  baseUrl: string,
  options: PushCostOptions,
  waitForCounts: boolean,
): Promise<number> {
  const tokens = await inBatches(range(options.members), (i) =>
    registerUser(baseUrl, `push${i}`, 'bench-pw'),
  );
  const [owner, reader] = [tokens[0]!, tokens[tokens.length - 1]!];
  const roomId = (await call(baseUrl, 'POST', '/createRoom', owner, { preset: 'public_chat' }))
    .room_id as string;
  const room = encodeURIComponent(roomId);
  await inBatches(tokens.slice(1), (token) => call(baseUrl, 'POST', `/join/${room}`, token, {}));
  const senders = tokens.slice(0, options.senders);
  const start = performance.now();
  let sent = 0;
  await Promise.all(
    senders.map(async (token, s) => {
      while (sent < options.sends) {
        const n = sent++;
        const body = { msgtype: 'm.text', body: `message ${n}` };
        await call(baseUrl, 'PUT', `/rooms/${room}/send/m.room.message/s${s}-${n}`, token, body);
      }
    }),
  );
  if (waitForCounts) await untilCounted(baseUrl, reader, roomId, options.sends);
  return options.sends / ((performance.now() - start) / 1000);
}

/** Polls the reader's /sync until the room's notification count reaches `expected`. */
async function untilCounted(baseUrl: string, token: string, roomId: string, expected: number) {
  for (;;) {
    const sync = await call(baseUrl, 'GET', '/sync?timeout=0', token);
    const rooms = sync.rooms as { join: Record<string, { unread_notifications: Body }> };
    const count = rooms.join[roomId]?.unread_notifications.notification_count;
    if (typeof count === 'number' && count >= expected) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Body = Record<string, unknown>;

function call(baseUrl: string, method: string, path: string, token: string, body?: Body) {
  return clientRequest<Body>(baseUrl, method, token, path, body);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

async function inBatches<T, R>(items: T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += SETUP_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(i, i + SETUP_CONCURRENCY).map(run))));
  }
  return results;
}
