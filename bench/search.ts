/**
 * The search workload (issue 21): `messages` messages over `rooms` rooms, sent
 * by several users at once (the send rate, with the index written in each
 * event's transaction, is the indexing cost's measure: compare it with a run
 * on a Weft without the index), then POST /search for a word in about half of
 * the messages and for one in about one in a thousand, ordered by rank and by
 * recent, from a user in every room: the median latency of each.
 *
 * Against a Weft without /search (404), only the sends are measured.
 */
import { CLIENT, callJson } from './http-client.js';
import { percentile, registerUser } from './workloads.js';

const REQUEST_TIMEOUT_MS = 60_000;
/** A word in about every second message, and one in about every thousandth. */
export const COMMON_WORD = 'meeting';
export const RARE_WORD = 'zanzibar';
const FILLER = Array.from({ length: 2000 }, (_, i) => `w${i.toString(36)}x`);

export interface SearchBenchOptions {
  messages: number;
  rooms: number;
  /** Users sending at once (each sends to every room, round robin). */
  senders: number;
  /** Sends in flight per sender. */
  inFlight: number;
  /** Searches per query measured (after one unmeasured). */
  searches: number;
}

export interface SearchQueryResult {
  term: string;
  order: 'rank' | 'recent';
  p50Ms: number;
  p99Ms: number;
  /** The `count` /search answered. */
  count: number;
}

export interface SearchBenchResult {
  sent: number;
  sendSeconds: number;
  sendRate: number;
  /** Empty when the server has no /search. */
  queries: SearchQueryResult[];
}

export async function searchWorkload(
  baseUrl: string,
  options: SearchBenchOptions,
  prefix = 'search',
): Promise<SearchBenchResult> {
  const owner = await registerUser(baseUrl, `${prefix}-owner`, 'bench-pw');
  const senders = await Promise.all(
    Array.from({ length: options.senders }, (_, i) =>
      registerUser(baseUrl, `${prefix}-sender-${i}`, 'bench-pw'),
    ),
  );
  const rooms: string[] = [];
  for (let i = 0; i < options.rooms; i++) {
    const { room_id } = await request<{ room_id: string }>(baseUrl, owner, 'POST', '/createRoom', {
      preset: 'public_chat',
    });
    rooms.push(room_id);
  }
  await inPool(
    senders.flatMap((token) => rooms.map((room) => ({ token, room }))),
    16,
    ({ token, room }) => request(baseUrl, token, 'POST', `/join/${encodeURIComponent(room)}`, {}),
  );

  const started = performance.now();
  let next = 0;
  await Promise.all(
    senders.flatMap((token, s) =>
      Array.from({ length: options.inFlight }, async (_, lane) => {
        let txn = 0;
        while (next < options.messages) {
          const n = next++;
          const room = rooms[n % rooms.length]!;
          await request(
            baseUrl,
            token,
            'PUT',
            `/rooms/${encodeURIComponent(room)}/send/m.room.message/s${s}l${lane}t${txn++}`,
            { msgtype: 'm.text', body: messageBody(n) },
          );
        }
      }),
    ),
  );
  const sendSeconds = (performance.now() - started) / 1000;

  const queries: SearchQueryResult[] = [];
  if (await hasSearch(baseUrl, owner)) {
    for (const term of [COMMON_WORD, RARE_WORD]) {
      for (const order of ['rank', 'recent'] as const) {
        queries.push(await timeSearch(baseUrl, owner, term, order, options.searches));
      }
    }
  }
  return {
    sent: options.messages,
    sendSeconds,
    sendRate: options.messages / sendSeconds,
    queries,
  };
}

/** A deterministic message: the common word in every second one, the rare in every thousandth. */
function messageBody(n: number): string {
  const words = Array.from(
    { length: 8 },
    (_, i) => FILLER[(n * 7919 + i * 104729) % FILLER.length],
  );
  if (n % 2 === 0) words.splice(n % 8, 0, COMMON_WORD);
  if (n % 1000 === 500) words.push(RARE_WORD);
  return words.join(' ');
}

async function hasSearch(baseUrl: string, token: string): Promise<boolean> {
  const { status } = await callJson('POST', `${baseUrl}${CLIENT}/search`, token, searchBody('x'));
  return status === 200;
}

async function timeSearch(
  baseUrl: string,
  token: string,
  term: string,
  order: 'rank' | 'recent',
  runs: number,
): Promise<SearchQueryResult> {
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i <= runs; i++) {
    const began = performance.now();
    const answer = await request<{ search_categories: { room_events: { count: number } } }>(
      baseUrl,
      token,
      'POST',
      '/search',
      searchBody(term, order),
    );
    if (i > 0) times.push(performance.now() - began);
    count = answer.search_categories.room_events.count;
  }
  return { term, order, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), count };
}

function searchBody(term: string, order: 'rank' | 'recent' = 'rank'): object {
  return { search_categories: { room_events: { search_term: term, order_by: order } } };
}

async function inPool<T>(items: T[], size: number, task: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await task(items[next++]!);
    }),
  );
}

async function request<T>(
  baseUrl: string,
  token: string,
  method: string,
  path: string,
  body: object,
): Promise<T> {
  const { ok, status, json } = await callJson(
    method,
    baseUrl + CLIENT + path,
    token,
    body,
    REQUEST_TIMEOUT_MS,
  );
  if (!ok) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json as T;
}
