/**
 * The federation workloads (issue 25), on loopback over plain HTTP
 * (`federation.hosts`, loopback allowed, as test/e2e/federation-joins.test.ts
 * sets two Wefts up):
 * - cross-server latency: two Wefts, a room on A joined by a user of B; a user
 *   on A sends, one message at a time, and a user on B holds a `/sync`
 *   long-poll; the time from the send's request on A until B's client has the
 *   event, p50/p99 over the sends;
 * - inbound `/send` throughput: one Weft and a fake remote server of the
 *   bench's own (it serves its signing key at /_matrix/key/v2/server, so Weft
 *   fetches and checks it as it would any server's). The remote joins a room
 *   of the Weft through make_join/send_join, then sends transactions of 50
 *   PDUs, each a message built on the previous one and signed with its key,
 *   to `PUT /_matrix/federation/v1/send/{txnId}`, signed with X-Matrix. One
 *   transaction at a time, as a server sends to one destination. Every PDU
 *   goes through Weft's checks: format, signatures, content hash, auth events,
 *   state before, soft failure; then it is stored. PDUs/s per run.
 * Events and transactions are built and signed before the clock starts, so
 * the bench process spends the measured time waiting on Weft. Setup is not
 * measured.
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { SigningKey } from '../src/crypto/server-keys.js';
import { authEventTypesFor } from '../src/events/auth/auth-events.js';
import { eventIdFor } from '../src/events/hashing.js';
import type { JsonObject, Pdu } from '../src/events/pdu.js';
import { roomVersion, type RoomVersion } from '../src/events/room-versions.js';
import { hashAndSignEvent, signingKeyFromSeed } from '../src/events/signing.js';
import { ownKeyDocument } from '../src/federation/key-rules.js';
import { xMatrixAuthorization } from '../src/federation/request-auth.js';
import { clientRequest } from './http-client.js';
import { freePort, startWeftServer, type ChildServer } from './server-process.js';
import { median } from './startup.js';
import { registerUser, summarise, type BenchAccount, type Measurement } from './workloads.js';

const FEDERATION = '/_matrix/federation';
/** The spec's (and Weft's) largest transaction. */
export const PDUS_PER_TRANSACTION = 50;
const SERVER_A = 'a.bench';
const SERVER_B = 'b.bench';
const SERVER_INBOUND = 'inbound.bench';
const REMOTE = 'remote.bench';

export interface LatencyOptions {
  sends: number;
  warmupSends: number;
}

export interface InboundOptions {
  runs: number;
  /** Transactions per run, each of PDUS_PER_TRANSACTION PDUs. */
  transactions: number;
  /** Unmeasured transactions first (JIT, caches, the remote's key fetched). */
  warmupTransactions: number;
  /** A folder for a V8 CPU profile of the receiving Weft. */
  cpuProfileDir?: string;
}

export interface InboundResults {
  /** PDUs/s of each measured run. */
  runRates: number[];
  /** Latencies of every measured transaction; rate is the median run's PDUs/s. */
  transactions: Measurement;
  pdus: number;
  /** The receiving Weft's CPU during the measured runs, in cores. */
  serverCpu: number;
}

/** YAML lines for a Weft named `name` that reaches the `peers` (name → port) over plain HTTP. */
function federationConfig(name: string, peers: Record<string, number>): string[] {
  return [
    `server_name: ${JSON.stringify(name)}`,
    'federation:',
    '  hosts:',
    ...Object.entries(peers).map(
      ([peer, port]) => `    ${JSON.stringify(peer)}: "http://127.0.0.1:${port}"`,
    ),
    '  ip_range_whitelist: ["127.0.0.0/8"]',
  ];
}

async function account(weft: ChildServer, server: string, name: string): Promise<BenchAccount> {
  const token = await registerUser(weft.url, name, `bench-password-${name}`);
  return { userId: `@${name}:${server}`, token };
}

// --- cross-server latency ---------------------------------------------------------------

/**
 * Two Wefts started here, a room on A that a user of B joins; then `sends`
 * messages from A, each timed until B's long-polling client has it.
 */
export async function crossServerLatency(
  options: LatencyOptions,
  started: (server: ChildServer) => void,
): Promise<Measurement> {
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startWeftServer({
    logRequests: false,
    port: portA,
    configLines: federationConfig(SERVER_A, { [SERVER_B]: portB }),
  });
  started(a);
  const b = await startWeftServer({
    logRequests: false,
    port: portB,
    configLines: federationConfig(SERVER_B, { [SERVER_A]: portA }),
  });
  started(b);
  const alice = await account(a, SERVER_A, 'fedalice');
  const bob = await account(b, SERVER_B, 'fedbob');
  const { room_id: roomId } = await clientRequest<{ room_id: string }>(
    a.url,
    'POST',
    alice.token,
    '/createRoom',
    { preset: 'public_chat' },
  );
  await clientRequest(b.url, 'POST', bob.token, `/join/${enc(roomId)}?server_name=${SERVER_A}`, {});
  const poller = new SyncPoller(b.url, bob, roomId);
  await poller.start();
  const latencies: number[] = [];
  let start = performance.now();
  try {
    for (let send = 0; send < options.warmupSends + options.sends; send++) {
      if (send === options.warmupSends) start = performance.now();
      const body = `across ${send}`;
      const arrived = poller.arrivalOf(body);
      // The long-poll is waiting again before the send is timed.
      await new Promise((resolve) => setTimeout(resolve, 10));
      const sent = performance.now();
      await clientRequest(
        a.url,
        'PUT',
        alice.token,
        `/rooms/${enc(roomId)}/send/m.room.message/across${send}`,
        { msgtype: 'm.text', body },
      );
      const at = await withTimeout(arrived, 30_000, `message ${send} never reached ${SERVER_B}`);
      if (send >= options.warmupSends) latencies.push(at - sent);
    }
  } finally {
    poller.stop();
  }
  return summarise(latencies, (performance.now() - start) / 1000);
}

/** A client's /sync loop on one account: long-polls, noting when each message body arrives. */
class SyncPoller {
  private since = '';
  private running = true;
  private readonly arrivals = new Map<string, number>();
  private readonly waiting = new Map<string, (at: number) => void>();
  private failure: Error | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly account: BenchAccount,
    private readonly roomId: string,
  ) {}

  async start(): Promise<void> {
    this.since = (await this.sync(0)).next_batch;
    // Once stopped, the long-poll still open fails as its server stops: that is no failure.
    this.loop().catch((err: unknown) => {
      if (this.running) this.failure = err as Error;
    });
  }

  stop(): void {
    this.running = false;
  }

  /** When the body arrives (or arrived). */
  arrivalOf(body: string): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    const at = this.arrivals.get(body);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.waiting.set(body, resolve));
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const sync = await this.sync(30_000);
      const at = performance.now();
      this.since = sync.next_batch;
      const events = sync.rooms?.join?.[this.roomId]?.timeline?.events ?? [];
      for (const event of events) {
        const body = event.content?.body;
        if (typeof body !== 'string') continue;
        this.arrivals.set(body, at);
        this.waiting.get(body)?.(at);
        this.waiting.delete(body);
      }
    }
  }

  private sync(timeoutMs: number) {
    const query = `timeout=${timeoutMs}${this.since ? `&since=${this.since}` : ''}`;
    return clientRequest<SyncBody>(this.baseUrl, 'GET', this.account.token, `/sync?${query}`);
  }
}

interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, { timeline?: { events?: { content?: { body?: unknown } }[] } }> };
}

// --- inbound /send throughput -----------------------------------------------------------

/**
 * One Weft and the fake remote; the remote joins a room and sends `runs` ×
 * `transactions` transactions of 50 messages (after the warm-up ones).
 */
export async function inboundThroughput(
  options: InboundOptions,
  started: (server: ChildServer) => void,
): Promise<InboundResults> {
  const remote = await FakeRemote.start();
  try {
    const weft = await startWeftServer({
      logRequests: false,
      cpuProfileDir: options.cpuProfileDir,
      configLines: federationConfig(SERVER_INBOUND, { [REMOTE]: remote.port }),
    });
    started(weft);
    const host = await account(weft, SERVER_INBOUND, 'fedhost');
    const { room_id: roomId } = await clientRequest<{ room_id: string }>(
      weft.url,
      'POST',
      host.token,
      '/createRoom',
      { preset: 'public_chat' },
    );
    const sender = new RemoteSender(remote.key, weft.url, SERVER_INBOUND);
    const room = await sender.join(roomId, `@fed:${REMOTE}`);
    const total = options.warmupTransactions + options.runs * options.transactions;
    const transactions = Array.from({ length: total }, (_, t) =>
      sender.transaction(`bench-${t}`, room.nextMessages(PDUS_PER_TRANSACTION)),
    );
    for (const txn of transactions.slice(0, options.warmupTransactions)) await sender.send(txn);
    const runRates: number[] = [];
    const latencies: number[] = [];
    const cpuBefore = weft.cpuSeconds();
    const measuredStart = performance.now();
    for (let run = 0; run < options.runs; run++) {
      const from = options.warmupTransactions + run * options.transactions;
      const runStart = performance.now();
      for (const txn of transactions.slice(from, from + options.transactions)) {
        const sent = performance.now();
        await sender.send(txn);
        latencies.push(performance.now() - sent);
      }
      const seconds = (performance.now() - runStart) / 1000;
      runRates.push((options.transactions * PDUS_PER_TRANSACTION) / seconds);
    }
    const seconds = (performance.now() - measuredStart) / 1000;
    const serverCpu = (weft.cpuSeconds() - cpuBefore) / seconds;
    // The last PDU is stored and served to the room's local member.
    const last = transactions.at(-1)!.lastEventId;
    await clientRequest(weft.url, 'GET', host.token, `/rooms/${enc(roomId)}/event/${enc(last)}`);
    const transactionsMeasurement = summarise(latencies, seconds);
    return {
      runRates,
      transactions: { ...transactionsMeasurement, rate: median(runRates) },
      pdus: options.runs * options.transactions * PDUS_PER_TRANSACTION,
      serverCpu,
    };
  } finally {
    await remote.close();
  }
}

/**
 * The remote server's HTTP side: its key document (what Weft fetches to check
 * its signatures), and 200 to any transaction Weft sends it (typing, receipts,
 * presence of the room's local member). Everything else: 404.
 */
class FakeRemote {
  private constructor(
    readonly key: SigningKey,
    readonly port: number,
    private readonly server: Server,
  ) {}

  static async start(): Promise<FakeRemote> {
    const key = signingKeyFromSeed(randomBytes(32).toString('base64'), 'ed25519:bench');
    const port = await freePort();
    const server = createServer((request, response) => {
      request.resume();
      const answer = (status: number, body: object) => {
        const text = JSON.stringify(body);
        response.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text),
        });
        response.end(text);
      };
      const path = request.url ?? '';
      if (request.method === 'GET' && path.startsWith('/_matrix/key/v2/server')) {
        const validUntilTs = Date.now() + 24 * 60 * 60 * 1000;
        answer(
          200,
          ownKeyDocument({ serverName: REMOTE, signingKey: key, oldKeys: [], validUntilTs }),
        );
      } else if (request.method === 'PUT' && path.startsWith(`${FEDERATION}/v1/send/`)) {
        answer(200, { pdus: {} });
      } else {
        answer(404, { errcode: 'M_UNRECOGNIZED', error: 'Not served by the bench remote' });
      }
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return new FakeRemote(key, port, server);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface BuiltPdu {
  eventId: string;
  pdu: Pdu;
}

/** A prepared transaction: its body and X-Matrix header, made before it is timed. */
interface PreparedTransaction {
  path: string;
  body: string;
  authorization: string;
  lastEventId: string;
}

/** The remote room as the remote server holds it: where its next message goes. */
class RemoteRoom {
  private previous: BuiltPdu;
  private sent = 0;

  constructor(
    private readonly roomId: string,
    private readonly version: RoomVersion,
    private readonly userId: string,
    private readonly key: SigningKey,
    join: BuiltPdu,
    /** A message's auth events: power levels, the remote user's join (and create before v12). */
    private readonly messageAuth: string[],
  ) {
    this.previous = join;
  }

  /** `count` messages, each on the previous one (one forward extremity throughout). */
  nextMessages(count: number): BuiltPdu[] {
    return Array.from({ length: count }, () => {
      const event = buildPdu(this.version, this.key, {
        type: 'm.room.message',
        room_id: this.roomId,
        sender: this.userId,
        content: { msgtype: 'm.text', body: `inbound ${this.sent++}` },
        prev_events: [this.previous.eventId],
        auth_events: this.messageAuth,
        depth: this.previous.pdu.depth + 1,
      });
      this.previous = event;
      return event;
    });
  }
}

/** Signed federation requests from the remote to one Weft. */
class RemoteSender {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4 });

  constructor(
    private readonly key: SigningKey,
    private readonly baseUrl: string,
    /** The Weft's server name, which X-Matrix names as the destination. */
    private readonly destination: string,
  ) {}

  /** make_join, then send_join: the room as the remote now holds it. */
  async join(roomId: string, userId: string): Promise<RemoteRoom> {
    const made = await this.call(
      'GET',
      `${FEDERATION}/v1/make_join/${enc(roomId)}/${enc(userId)}?ver=10&ver=11&ver=12`,
    );
    const { event: template, room_version: versionId } = made as {
      event: JsonObject;
      room_version: string;
    };
    const version = roomVersion(versionId);
    const join = buildPdu(version, this.key, {
      ...(template as unknown as Partial<Pdu>),
      origin_server_ts: Date.now(),
    });
    const answer = (await this.call(
      'PUT',
      `${FEDERATION}/v2/send_join/${enc(roomId)}/${enc(join.eventId)}`,
      join.pdu as unknown as JsonObject,
    )) as { state: Pdu[] };
    const stateIds = new Map<string, string>();
    for (const pdu of [...answer.state, join.pdu]) {
      stateIds.set(`${pdu.type}\u0000${pdu.state_key ?? ''}`, eventIdFor(pdu, version));
    }
    const probe = { type: 'm.room.message', sender: userId, content: {} } as unknown as Pdu;
    const messageAuth = authEventTypesFor(probe, version).map((pair) => {
      const id = stateIds.get(`${pair.type}\u0000${pair.stateKey}`);
      if (!id) throw new Error(`send_join gave no ${pair.type} state`);
      return id;
    });
    return new RemoteRoom(roomId, version, userId, this.key, join, messageAuth);
  }

  transaction(txnId: string, pdus: BuiltPdu[]): PreparedTransaction {
    const path = `${FEDERATION}/v1/send/${enc(txnId)}`;
    const content = {
      origin: REMOTE,
      origin_server_ts: Date.now(),
      pdus: pdus.map((p) => p.pdu as unknown as JsonObject),
    };
    const authorization = xMatrixAuthorization(
      { method: 'PUT', uri: path, origin: REMOTE, destination: this.destination, content },
      this.key,
    );
    return {
      path,
      body: JSON.stringify(content),
      authorization,
      lastEventId: pdus.at(-1)!.eventId,
    };
  }

  /** Sends a prepared transaction; every PDU must be accepted. */
  async send(txn: PreparedTransaction): Promise<void> {
    const { status, json } = await this.raw('PUT', txn.path, txn.authorization, txn.body);
    if (status !== 200) throw new Error(`/send: ${status} ${JSON.stringify(json)}`);
    const results = (json as { pdus?: Record<string, { error?: string }> }).pdus ?? {};
    const refused = Object.entries(results).filter(([, result]) => result.error !== undefined);
    if (refused.length > 0) {
      throw new Error(`/send refused ${refused.length} PDUs: ${JSON.stringify(refused[0])}`);
    }
  }

  private async call(method: string, path: string, content?: JsonObject): Promise<unknown> {
    const authorization = xMatrixAuthorization(
      { method, uri: path, origin: REMOTE, destination: this.destination, content },
      this.key,
    );
    const body = content === undefined ? undefined : JSON.stringify(content);
    const { status, json } = await this.raw(method, path, authorization, body);
    if (status !== 200) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
    return json;
  }

  private raw(
    method: string,
    path: string,
    authorization: string | undefined,
    body: string | undefined,
  ): Promise<{ status: number; json: unknown }> {
    const headers: Record<string, string | number> = {};
    if (authorization) headers.authorization = authorization;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      const request = httpRequest(
        this.baseUrl + path,
        { method, headers, agent: this.agent, timeout: 60_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown = text;
            try {
              json = JSON.parse(text);
            } catch {
              // Not JSON: kept as text for the error message.
            }
            resolve({ status: response.statusCode ?? 0, json });
          });
        },
      );
      request.on('timeout', () => request.destroy(new Error(`${method} ${path}: timed out`)));
      request.on('error', reject);
      request.end(body);
    });
  }
}

/** Hashes and signs an event as the remote, and names it. */
function buildPdu(version: RoomVersion, key: SigningKey, fields: Partial<Pdu>): BuiltPdu {
  const unsigned = {
    origin_server_ts: Date.now(),
    ...fields,
    hashes: { sha256: '' },
    signatures: {},
  } as Pdu;
  const pdu = hashAndSignEvent(unsigned, REMOTE, key, version) as Pdu;
  return { eventId: eventIdFor(pdu, version), pdu };
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
