/**
 * The sliding sync workloads (issue 20): an account in R rooms with M messages
 * each, then Element X's `room-list` connection, with the bodies and query
 * parameters matrix-rust-sdk sends (test/support/element-x.ts):
 * - the first response (range 0–19, timeout=0), over several new connections;
 * - the list grown as Element X grows it (0–99, 0–199, … to the whole list);
 * - the wake-up of a long-polling connection (the whole range, timeout=30000)
 *   when a message arrives in one of its rooms (send answered → response
 *   received), over several sends.
 * Setup is not measured. Medians over the runs.
 */
import {
  FIRST_RANGE_END,
  GROWING_BATCH,
  roomListBody as elementXBody,
} from '../test/support/element-x.js';
import { callJson } from './http-client.js';
import { registerMany, summarise, type BenchAccount, type Measurement } from './workloads.js';

const PATH = '/_matrix/client/unstable/org.matrix.simplified_msc3575/sync';

export interface SlidingSyncOptions {
  rooms: number;
  messagesPerRoom: number;
  runs: number;
  /** Long-poll wake-ups measured (one message each); `runs` when unset. */
  wakes?: number;
  /**
   * The account to measure with; by default one registered through /register
   * (bench/synapse-sliding.ts passes one from Synapse's shared-secret API).
   */
  account?: BenchAccount;
  /** Rooms set up at once (setup only: a slower server's 500 rooms take a while). */
  setupConcurrency?: number;
}

export interface SlidingSyncResults {
  firstResponse: Measurement;
  fullList: Measurement;
  wakeUp: Measurement;
}

interface SlidingBody {
  pos: string;
  lists: Record<string, { count: number }>;
  rooms: Record<string, { timeline?: { content?: { body?: unknown } }[] }>;
}

/** Element X's room list body, on a connection of the bench's own naming. */
function roomListBody(end: number, connId: string) {
  return { ...elementXBody(end), conn_id: connId };
}

export async function slidingSyncWorkload(
  baseUrl: string,
  options: SlidingSyncOptions,
): Promise<SlidingSyncResults> {
  const account = options.account ?? (await registerMany(baseUrl, 'sliding', 1))[0];
  const roomIds = await populate(baseUrl, account!, options);
  const firsts: number[] = [];
  const fulls: number[] = [];
  const wakes: number[] = [];
  let started = performance.now();
  for (let run = 0; run < options.runs; run++) {
    const connId = `room-list-${run}`;
    const sent = performance.now();
    const first = await slide(baseUrl, account!, roomListBody(FIRST_RANGE_END, connId));
    firsts.push(performance.now() - sent);
    if (first.lists.all_rooms?.count !== options.rooms) throw new Error('wrong list count');
    fulls.push(await growToFull(baseUrl, account!, first.pos, connId, options.rooms));
  }
  const firstSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  let pos = (await slide(baseUrl, account!, roomListBody(options.rooms - 1, 'waker'))).pos;
  for (let run = 0; run < (options.wakes ?? options.runs); run++) {
    const roomId = roomIds[run % roomIds.length]!;
    const woken = await wakeUp(baseUrl, account!, pos, roomId, run, options.rooms);
    wakes.push(woken.ms);
    pos = woken.pos;
  }
  return {
    firstResponse: summarise(firsts, firstSeconds),
    fullList: summarise(fulls, firstSeconds),
    wakeUp: summarise(wakes, (performance.now() - started) / 1000),
  };
}

/** Grows the list 0–19 → 0–99 → 0–199 → … as Element X does: the time for all of them. */
async function growToFull(
  baseUrl: string,
  account: BenchAccount,
  pos: string,
  connId: string,
  rooms: number,
): Promise<number> {
  const sent = performance.now();
  let end = FIRST_RANGE_END;
  while (end < rooms - 1) {
    // The next batch's end: 19 → 99 → 199 … (from 99, floor(99 / 100) + 1 would stay at 99).
    end = Math.min((Math.floor((end + 1) / GROWING_BATCH) + 1) * GROWING_BATCH - 1, rooms - 1);
    pos = (await slide(baseUrl, account, roomListBody(end, connId), pos)).pos;
  }
  return performance.now() - sent;
}

/** A long-poll waiting, then a message: the time from the send's answer to the poll's. */
async function wakeUp(
  baseUrl: string,
  account: BenchAccount,
  pos: string,
  roomId: string,
  run: number,
  rooms: number,
): Promise<{ ms: number; pos: string }> {
  let answered = 0;
  // The list whole: Element X long-polls with the full range and a 30 s timeout.
  const poll = slide(baseUrl, account, roomListBody(rooms - 1, 'waker'), pos, 30_000).then(
    (body) => {
      answered = performance.now();
      return body;
    },
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
  const path = `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/wake${run}`;
  const send = await callJson('PUT', baseUrl + path, account.token, {
    msgtype: 'm.text',
    body: `wake ${run}`,
  });
  const sentAt = performance.now();
  if (!send.ok) throw new Error(`send: ${send.status}`);
  const body = await poll;
  if (!body.rooms[roomId]) throw new Error('the woken response lacks the room');
  return { ms: Math.max(0, answered - sentAt), pos: body.pos };
}

async function populate(
  baseUrl: string,
  account: BenchAccount,
  options: SlidingSyncOptions,
): Promise<string[]> {
  const roomIds: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < options.rooms)
      roomIds.push(await populateRoom(baseUrl, account, next++, options));
  };
  await Promise.all(Array.from({ length: options.setupConcurrency ?? 1 }, worker));
  return roomIds;
}

/** Room `r` with its messages, sent at once. */
async function populateRoom(
  baseUrl: string,
  account: BenchAccount,
  r: number,
  options: SlidingSyncOptions,
): Promise<string> {
  const created = await callJson('POST', `${baseUrl}/_matrix/client/v3/createRoom`, account.token, {
    name: `room ${r}`,
  });
  if (!created.ok) throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.json)}`);
  const roomId = (created.json as { room_id: string }).room_id;
  const sends = await Promise.all(
    Array.from({ length: options.messagesPerRoom }, (_, m) =>
      callJson(
        'PUT',
        `${baseUrl}/_matrix/client/v3/rooms/${roomId}/send/m.room.message/s${r}-${m}`,
        account.token,
        { msgtype: 'm.text', body: `message ${m}` },
      ),
    ),
  );
  const failed = sends.find((send) => !send.ok);
  if (failed) throw new Error(`send: ${failed.status} ${JSON.stringify(failed.json)}`);
  return roomId;
}

async function slide(
  baseUrl: string,
  account: BenchAccount,
  body: object,
  pos?: string,
  timeoutMs = 0,
): Promise<SlidingBody> {
  const query = `timeout=${timeoutMs}${pos ? `&pos=${encodeURIComponent(pos)}` : ''}`;
  const res = await callJson('POST', `${baseUrl}${PATH}?${query}`, account.token, body, 60_000);
  if (!res.ok) throw new Error(`sliding sync: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json as SlidingBody;
}
