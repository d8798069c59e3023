/**
 * The relations workload (issue 5): the cost of serving /messages pages in
 * which every event is a thread root with `repliesPerRoot` replies (each root
 * carries its bundled `m.thread` aggregation), against the same pages of plain
 * messages, as a ratio of the median page times. The replies are sent after
 * all the roots, and both rooms are paged back from the position just after
 * their roots, so every page holds roots only and the two runs read the same
 * number of events. Setup requests are not measured.
 */
import { CLIENT, callJson } from './http-client.js';
import { percentile, registerUser } from './workloads.js';

/** Each request's timeout. */
const REQUEST_TIMEOUT_MS = 30_000;

export interface ThreadedMessagesOptions {
  /** Thread roots (and plain messages) per room. */
  roots: number;
  repliesPerRoot: number;
  /** Events per /messages page. */
  pageSize: number;
  /** How many times each room is paged through from its start token. */
  rounds: number;
  /** Distinguishes the account of repeated runs against one server. */
  prefix?: string;
}

export interface ThreadedMessagesResult {
  plainP50Ms: number;
  threadedP50Ms: number;
  /** Threaded over plain page time (medians): 1 means threads cost nothing. */
  ratio: number;
  pages: number;
}

/** Sends at most this many events at once during setup (they share group commits). */
const SEND_CONCURRENCY = 20;

export async function threadedMessages(
  baseUrl: string,
  options: ThreadedMessagesOptions,
): Promise<ThreadedMessagesResult> {
  const client = new Client(
    baseUrl,
    await registerUser(baseUrl, `${options.prefix ?? ''}threads`, 'bench-pw'),
  );
  const plain = await client.createRoom();
  const threaded = await client.createRoom();
  const count = Array.from({ length: options.roots }, (_, i) => i);
  await inBatches(count, (i) => client.send(plain, { msgtype: 'm.text', body: `plain ${i}` }));
  const plainStart = await client.startToken(plain);
  const roots = await inBatches(count, (i) =>
    client.send(threaded, { msgtype: 'm.text', body: `root ${i}` }),
  );
  const threadedStart = await client.startToken(threaded);
  const replies = roots.flatMap((root) =>
    Array.from({ length: options.repliesPerRoot }, (_, n) => ({ root, n })),
  );
  await inBatches(replies, ({ root, n }) =>
    client.send(threaded, {
      msgtype: 'm.text',
      body: `reply ${n}`,
      'm.relates_to': { rel_type: 'm.thread', event_id: root },
    }),
  );

  const plainTimes: number[] = [];
  const threadedTimes: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    plainTimes.push(...(await client.pageThrough(plain, plainStart, options.pageSize)));
    threadedTimes.push(...(await client.pageThrough(threaded, threadedStart, options.pageSize)));
  }
  const plainP50Ms = percentile(plainTimes, 50);
  const threadedP50Ms = percentile(threadedTimes, 50);
  return {
    plainP50Ms,
    threadedP50Ms,
    ratio: threadedP50Ms / plainP50Ms,
    pages: threadedTimes.length,
  };
}

async function inBatches<T, R>(items: T[], task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += SEND_CONCURRENCY) {
    results.push(...(await Promise.all(items.slice(i, i + SEND_CONCURRENCY).map(task))));
  }
  return results;
}

interface MessagesPage {
  start: string;
  end?: string;
  chunk: { type: string; unsigned?: Record<string, unknown> }[];
}

class Client {
  private txn = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async createRoom(): Promise<string> {
    return (await this.request<{ room_id: string }>('POST', '/createRoom', {})).room_id;
  }

  async send(roomId: string, content: object): Promise<string> {
    const path = `/rooms/${roomId}/send/m.room.message/b${++this.txn}`;
    return (await this.request<{ event_id: string }>('PUT', path, content)).event_id;
  }

  /** A token for "now" in the room: where paging back starts. */
  async startToken(roomId: string): Promise<string> {
    return (await this.messages(roomId, undefined, 1)).start;
  }

  /** Pages back from `from` to the room's creation; returns each page's time in ms. */
  async pageThrough(roomId: string, from: string, pageSize: number): Promise<number[]> {
    const times: number[] = [];
    let token: string | undefined = from;
    while (token !== undefined) {
      const started = performance.now();
      const page: MessagesPage = await this.messages(roomId, token, pageSize);
      times.push(performance.now() - started);
      token = page.chunk.length > 0 ? page.end : undefined;
    }
    return times;
  }

  private messages(roomId: string, from: string | undefined, limit: number) {
    const query = `dir=b&limit=${limit}${from ? `&from=${encodeURIComponent(from)}` : ''}`;
    return this.request<MessagesPage>('GET', `/rooms/${roomId}/messages?${query}`);
  }

  private async request<T>(method: string, path: string, body?: object): Promise<T> {
    const url = this.baseUrl + CLIENT + path;
    const { ok, status, json } = await callJson(method, url, this.token, body, REQUEST_TIMEOUT_MS);
    if (!ok) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
    return json as T;
  }
}
