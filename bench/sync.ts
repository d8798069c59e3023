/**
 * The sync workloads (issue 4):
 * - fan-out: N users long-poll /sync in one room, one of them sends; the time
 *   until every poller has the message, p50/p99 over the sends;
 * - initial sync of a user in R rooms with M messages each (timeline limit 10);
 * - /messages paging back through E events of one room, events/s.
 * Setup requests are not measured. Requests go over keep-alive connections
 * (bench/http-client.ts), one long-poll per user as a client would hold.
 */
import { clientRequest } from './http-client.js';
import { registerMany, summarise, type BenchAccount, type Measurement } from './workloads.js';

export interface FanOutOptions {
  users: number;
  sends: number;
  /** Unmeasured sends first, as the other workloads warm up (JIT, caches). */
  warmupSends?: number;
  /** Distinguishes the accounts of repeated runs against one server. */
  prefix?: string;
}

export interface InitialSyncOptions {
  rooms: number;
  messagesPerRoom: number;
  runs: number;
}

export interface PagingOptions {
  events: number;
  pageSize: number;
}

type Account = BenchAccount;

/** Fan-out: how long after a send every long-polling member has the message. */
export async function syncFanOut(baseUrl: string, options: FanOutOptions): Promise<Measurement> {
  const api = new BenchApi(baseUrl);
  const accounts = await registerMany(baseUrl, `${options.prefix ?? ''}fan`, options.users);
  const [sender] = accounts;
  const roomId = await api.createRoom(sender!, { preset: 'public_chat' });
  for (const account of accounts.slice(1)) await api.join(account, roomId);
  const sinces = await Promise.all(accounts.map((a) => api.sync(a, undefined, 0)));
  const latencies: number[] = [];
  const warmup = options.warmupSends ?? 0;
  let start = performance.now();
  for (let send = 0; send < warmup + options.sends; send++) {
    if (send === warmup) start = performance.now();
    const body = `fan-out ${send}`;
    const polls = accounts.map((account, i) =>
      pollUntil(api, account, sinces, i, (sync) => timelineBodies(sync, roomId).includes(body)),
    );
    // Every poller is waiting before the send is timed.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const sent = performance.now();
    await api.send(sender!, roomId, body, `fan${send}`);
    const arrivals = await Promise.all(polls);
    if (send >= warmup) latencies.push(Math.max(...arrivals) - sent);
  }
  const seconds = (performance.now() - start) / 1000;
  return summarise(latencies, seconds);
}

/** Initial sync of one account in many rooms: the median and spread of `runs` syncs. */
export async function initialSync(
  baseUrl: string,
  options: InitialSyncOptions,
): Promise<Measurement> {
  const api = new BenchApi(baseUrl);
  const [account] = await registerMany(baseUrl, 'initial', 1);
  for (let r = 0; r < options.rooms; r++) {
    const roomId = await api.createRoom(account!, { name: `room ${r}` });
    await Promise.all(
      Array.from({ length: options.messagesPerRoom }, (_, m) =>
        api.send(account!, roomId, `message ${m}`, `i${r}-${m}`),
      ),
    );
  }
  const filter = JSON.stringify({ room: { timeline: { limit: 10 } } });
  const latencies: number[] = [];
  const start = performance.now();
  for (let run = 0; run < options.runs; run++) {
    const sent = performance.now();
    const sync = await api.get<SyncBody>(account!, `/sync?filter=${encodeURIComponent(filter)}`);
    latencies.push(performance.now() - sent);
    const joined = Object.keys(sync.rooms?.join ?? {}).length;
    if (joined !== options.rooms) throw new Error(`initial sync had ${joined} rooms`);
  }
  return summarise(latencies, (performance.now() - start) / 1000);
}

/** /messages backwards from the newest event to the room's first, `pageSize` at a time. */
export async function messagesPaging(
  baseUrl: string,
  options: PagingOptions,
): Promise<Measurement> {
  const api = new BenchApi(baseUrl);
  const [account] = await registerMany(baseUrl, 'pager', 1);
  const roomId = await api.createRoom(account!, {});
  const batch = 50;
  for (let sent = 0; sent < options.events; sent += batch) {
    await Promise.all(
      Array.from({ length: Math.min(batch, options.events - sent) }, (_, i) =>
        api.send(account!, roomId, `history ${sent + i}`, `h${sent + i}`),
      ),
    );
  }
  const latencies: number[] = [];
  let events = 0;
  let from: string | undefined;
  const start = performance.now();
  for (;;) {
    const query = `dir=b&limit=${options.pageSize}${from ? `&from=${from}` : ''}`;
    const sent = performance.now();
    const page = await api.get<{ chunk: unknown[]; end?: string }>(
      account!,
      `/rooms/${roomId}/messages?${query}`,
    );
    latencies.push(performance.now() - sent);
    events += page.chunk.length;
    if (page.end === undefined) break;
    from = page.end;
  }
  const seconds = (performance.now() - start) / 1000;
  if (events < options.events) throw new Error(`paging saw ${events} events`);
  // The rate is events per second; the latencies are per page.
  return { ...summarise(latencies, seconds), rate: events / seconds, ok: events };
}

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: { content?: { body?: unknown } }[] } }> };
}

function timelineBodies(sync: SyncBody, roomId: string): unknown[] {
  return (sync.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e) => e.content?.body);
}

/** Long-polls from the account's token until `done` says the sync has it; the arrival time. */
async function pollUntil(
  api: BenchApi,
  account: Account,
  sinces: string[],
  index: number,
  done: (sync: SyncBody) => boolean,
): Promise<number> {
  for (;;) {
    const sync = await api.syncBody(account, sinces[index], 30_000);
    sinces[index] = sync.next_batch;
    if (done(sync)) return performance.now();
  }
}

class BenchApi {
  constructor(private readonly baseUrl: string) {}

  async get<T>(account: Account, path: string): Promise<T> {
    return this.request<T>('GET', account, path);
  }

  async createRoom(account: Account, body: object): Promise<string> {
    return (await this.request<{ room_id: string }>('POST', account, '/createRoom', body)).room_id;
  }

  async join(account: Account, roomId: string): Promise<void> {
    await this.request('POST', account, `/join/${roomId}`, {});
  }

  async send(account: Account, roomId: string, body: string, txnId: string): Promise<void> {
    const path = `/rooms/${roomId}/send/m.room.message/${txnId}`;
    await this.request('PUT', account, path, { msgtype: 'm.text', body });
  }

  async sync(account: Account, since: string | undefined, timeoutMs: number): Promise<string> {
    return (await this.syncBody(account, since, timeoutMs)).next_batch;
  }

  async syncBody(account: Account, since: string | undefined, timeoutMs: number) {
    const query = `timeout=${timeoutMs}${since ? `&since=${since}` : ''}`;
    return this.request<SyncBody>('GET', account, `/sync?${query}`);
  }

  private request<T>(method: string, account: Account, path: string, body?: object) {
    return clientRequest<T>(this.baseUrl, method, account.token, path, body);
  }
}
