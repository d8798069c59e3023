/**
 * A Weft and a real Synapse federating on loopback (docs/interop.md): one test
 * CA for both, server names that carry their port (`weft.test:P`,
 * `synapse.test:Q`), Weft's federation TLS listener on P with `ca_file` set and
 * `federation.hosts` pointing Synapse's name at 127.0.0.1:Q, Synapse told that
 * weft.test is 127.0.0.1 (its hosts file).
 *
 * Weft runs in this process with its log in `<dir>/weft.log` (level `debug`:
 * what federation refused is there); Synapse's is `<dir>/synapse/homeserver.log`.
 * The folder is kept when a scenario fails (its path is printed) or
 * WEFT_INTEROP_KEEP is set, and removed when everything passed.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startWeft, type Weft } from '../src/app.js';
import { mergeConfig } from '../src/config/config.js';
import { Api, CLIENT_V3, type Session } from '../test/support/client.js';
import { testConfig, testDatabase, type ConfigOverrides } from '../test/support/server.js';
import { assertResponseMatchesSpec } from '../test/support/spec-schemas.js';
import {
  freePortPair,
  installSynapse,
  makeCertificates,
  startSynapsePeer,
  type SynapsePeer,
} from './synapse-peer.js';

export { CLIENT_V3, type Session };

/** How long a scenario waits for something to cross over before it fails. */
export const CROSSING_TIMEOUT_MS = 60_000;

export interface WeftSynapsePair {
  dir: string;
  weftName: string;
  synapseName: string;
  weft: Weft;
  synapse: SynapsePeer;
  /** Client API of each (plain HTTP). */
  weftApi: Api;
  synapseApi: Api;
  /** A Weft user, registered through /register. */
  registerOnWeft(localpart: string): Promise<Session>;
  /** A Synapse user, registered through the shared-secret Admin API. */
  registerOnSynapse(localpart: string): Promise<Session>;
  /** Synapse stopped and started again on the same data folder (scenario 3). */
  stopSynapse(): Promise<void>;
  startSynapse(): Promise<void>;
  /** Runs a scenario's body; if it throws, the folder (both servers' logs) is kept at close. */
  run(body: () => Promise<void>): Promise<void>;
  /** Both stopped; the folder removed unless a scenario failed. */
  close(): Promise<void>;
}

export interface PairOptions {
  /** Weft's config on top of the federation settings (e.g. the sending retries). */
  weft?: ConfigOverrides;
}

/**
 * Weft's retries for a scenario: Synapse's 5 s doubling to an hour would make a
 * stopped-and-restarted peer wait for minutes; half a second doubling to 4 s
 * still shows the backoff and keeps the scenario short.
 */
const QUICK_RETRIES = { sending_retry_initial_ms: 500, sending_retry_max_ms: 4_000 };

export async function startPair(options: PairOptions = {}): Promise<WeftSynapsePair> {
  const installMs = await installSynapse();
  console.log(`# synapse install (or its check): ${(installMs / 1000).toFixed(1)} s`);
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-synapse-'));
  // A free pair for Synapse (TLS + plain), and one for Weft's federation listener.
  const synapsePort = await freePortPair();
  const weftPort = await freePortPair();
  const weftName = `weft.test:${weftPort}`;
  const synapseName = `synapse.test:${synapsePort}`;
  const certs = await makeCertificates(path.join(dir, 'certs'), [weftName, synapseName]);
  const weftCert = certs.certFor(weftName);

  const database = await testDatabase();
  const config = mergeConfig(
    testConfig(database.overrides, path.join(dir, 'weft')),
    mergeConfig(
      {
        server_name: weftName,
        registration: { enabled: true },
        log_level: 'debug',
        federation: {
          hosts: { [synapseName]: `127.0.0.1:${synapsePort}` },
          ca_file: certs.caFile,
          listener: {
            port: weftPort,
            bind_address: '127.0.0.1',
            tls_certificate_path: weftCert.certFile,
            tls_private_key_path: weftCert.keyFile,
          },
          ...QUICK_RETRIES,
        },
      } as never,
      options.weft ?? {},
    ) as ConfigOverrides,
  );
  const logger = pino({ level: 'debug' }, pino.destination(path.join(dir, 'weft.log')));

  const synapseOptions = {
    serverName: synapseName,
    port: synapsePort,
    dataDir: path.join(dir, 'synapse'),
    caFile: certs.caFile,
    ...certs.certFor(synapseName),
    peers: { [weftName]: '127.0.0.1' },
  };
  const [weftStarted, synapseStarted] = await Promise.allSettled([
    startWeft(config, { logger }),
    startSynapsePeer(synapseOptions),
  ]);
  if (weftStarted.status === 'rejected' || synapseStarted.status === 'rejected') {
    if (weftStarted.status === 'fulfilled') await weftStarted.value.close();
    if (synapseStarted.status === 'fulfilled') await synapseStarted.value.stop();
    await database.drop();
    const failure = [weftStarted, synapseStarted].find((result) => result.status === 'rejected');
    throw (failure as PromiseRejectedResult).reason;
  }
  const weft = weftStarted.value;
  let synapse = synapseStarted.value;
  console.log(`# synapse start: ${(synapse.startMs / 1000).toFixed(1)} s; logs in ${dir}`);
  const weftApi = new Api(weft.url);
  const synapseApi = new Api(() => synapse.clientUrl);
  let synapseRunning = true;
  let failed = false;

  return {
    dir,
    weftName,
    synapseName,
    weft,
    get synapse() {
      return synapse;
    },
    weftApi,
    synapseApi,
    registerOnWeft: (localpart) => weftApi.register(localpart),
    registerOnSynapse: async (localpart) => {
      const user = await synapse.register(localpart, `${localpart}-password`);
      return { user_id: user.userId, access_token: user.accessToken, device_id: '' };
    },
    stopSynapse: async () => {
      await synapse.stop();
      synapseRunning = false;
    },
    startSynapse: async () => {
      synapse = await startSynapsePeer(synapseOptions);
      synapseRunning = true;
    },
    run: async (body) => {
      try {
        await body();
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    close: async () => {
      await Promise.allSettled([weft.close(), synapseRunning ? synapse.stop() : undefined]);
      logger.flush();
      await database.drop();
      if (failed || process.env.WEFT_INTEROP_KEEP) console.log(`# kept for reading: ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- clients

export type Body = Record<string, unknown>;

export interface ClientEvent {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: Body;
  redacts?: string;
  unsigned?: Body;
}

interface RoomSection {
  timeline?: { events: ClientEvent[] };
  state?: { events: ClientEvent[] };
  ephemeral?: { events: { type: string; content: Body }[] };
}

interface SyncResponse {
  next_batch: string;
  rooms?: { join?: Record<string, RoomSection>; invite?: Record<string, unknown> };
}

/** A user on one of the two servers, with its client API. */
export class Client {
  private txn = 0;
  readonly seen: Seen = new Seen();
  private since = '';

  constructor(
    readonly api: Api,
    readonly session: Session,
    /** Weft's answers are checked against the spec's schema; Synapse's are the reference. */
    readonly checkSpec: boolean,
  ) {}

  get userId(): string {
    return this.session.user_id;
  }

  async call(method: string, apiPath: string, body?: unknown): Promise<Body> {
    const response = await this.api.request(method, apiPath, body, {
      token: this.session.access_token,
    });
    assert.equal(
      response.status,
      200,
      `${this.userId} ${method} ${apiPath}: ${JSON.stringify(response.body)}`,
    );
    return response.body;
  }

  room(roomId: string): string {
    return `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}`;
  }

  async send(roomId: string, type: string, content: Body): Promise<string> {
    const txnId = `s${Date.now()}-${++this.txn}`;
    const sent = await this.call('PUT', `${this.room(roomId)}/send/${type}/${txnId}`, content);
    return String(sent.event_id);
  }

  sendText(roomId: string, body: string): Promise<string> {
    return this.send(roomId, 'm.room.message', { msgtype: 'm.text', body });
  }

  async setState(roomId: string, type: string, content: Body, stateKey = ''): Promise<string> {
    const url = `${this.room(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`;
    return String((await this.call('PUT', url, content)).event_id);
  }

  async getState(roomId: string, type: string, stateKey = ''): Promise<Body> {
    return this.call('GET', `${this.room(roomId)}/state/${type}/${encodeURIComponent(stateKey)}`);
  }

  async redact(roomId: string, eventId: string, reason: string): Promise<string> {
    const txnId = `r${Date.now()}-${++this.txn}`;
    const url = `${this.room(roomId)}/redact/${encodeURIComponent(eventId)}/${txnId}`;
    return String((await this.call('PUT', url, { reason })).event_id);
  }

  async typing(roomId: string, typing: boolean): Promise<void> {
    const url = `${this.room(roomId)}/typing/${encodeURIComponent(this.userId)}`;
    await this.call('PUT', url, typing ? { typing, timeout: 30_000 } : { typing });
  }

  async receipt(roomId: string, eventId: string): Promise<void> {
    await this.call(
      'POST',
      `${this.room(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`,
      {},
    );
  }

  async join(roomIdOrAlias: string, via?: string): Promise<void> {
    const query = via ? `?via=${encodeURIComponent(via)}` : '';
    await this.call('POST', `${CLIENT_V3}/join/${encodeURIComponent(roomIdOrAlias)}${query}`, {});
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.call('POST', `${this.room(roomId)}/invite`, { user_id: userId });
  }

  async createRoom(body: Body): Promise<string> {
    return String((await this.call('POST', `${CLIENT_V3}/createRoom`, body)).room_id);
  }

  /** The room's current state, sorted by (type, state_key), as comparable JSON. */
  async stateSnapshot(roomId: string): Promise<ClientEvent[]> {
    const response = await this.api.get<ClientEvent[]>(`${this.room(roomId)}/state`, {
      token: this.session.access_token,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    if (this.checkSpec) {
      assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/state`, 200, response.body);
    }
    return [...response.body].sort((a, b) =>
      a.type === b.type
        ? (a.state_key ?? '').localeCompare(b.state_key ?? '')
        : a.type.localeCompare(b.type),
    );
  }

  /** One incremental /sync (long-polling up to `timeoutMs`), its rooms added to `seen`. */
  async syncOnce(timeoutMs: number): Promise<SyncResponse> {
    const query = new URLSearchParams({ timeout: String(timeoutMs) });
    if (this.since) query.set('since', this.since);
    const response = await this.api.get<SyncResponse>(`${CLIENT_V3}/sync?${query}`, {
      token: this.session.access_token,
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    if (this.checkSpec) {
      assertResponseMatchesSpec('get', `${CLIENT_V3}/sync`, 200, response.body as never);
    }
    this.since = response.body.next_batch;
    this.seen.add(response.body);
    return response.body;
  }

  /**
   * Syncs until `check` holds over everything this client's /sync has shown so
   * far (federation is asynchronous), or fails after CROSSING_TIMEOUT_MS.
   */
  async syncUntil(what: string, check: (seen: Seen) => boolean): Promise<void> {
    const deadline = Date.now() + CROSSING_TIMEOUT_MS;
    if (check(this.seen)) return;
    while (Date.now() < deadline) {
      await this.syncOnce(Math.min(5_000, Math.max(0, deadline - Date.now())));
      if (check(this.seen)) return;
    }
    assert.fail(`${this.userId}'s /sync never showed ${what}`);
  }
}

/** Everything a client's /syncs have shown, per room. */
export class Seen {
  readonly timeline = new Map<string, ClientEvent[]>();
  readonly state = new Map<string, ClientEvent[]>();
  readonly ephemeral = new Map<string, { type: string; content: Body }[]>();
  readonly invites = new Set<string>();

  add(body: SyncResponse): void {
    for (const roomId of Object.keys(body.rooms?.invite ?? {})) this.invites.add(roomId);
    for (const [roomId, section] of Object.entries(body.rooms?.join ?? {})) {
      push(this.timeline, roomId, section.timeline?.events ?? []);
      push(this.state, roomId, section.state?.events ?? []);
      push(this.ephemeral, roomId, section.ephemeral?.events ?? []);
    }
  }

  /** Timeline events of a room (optionally of a type), in the order synced. */
  events(roomId: string, type?: string): ClientEvent[] {
    const all = this.timeline.get(roomId) ?? [];
    return type ? all.filter((event) => event.type === type) : all;
  }

  event(roomId: string, eventId: string): ClientEvent | undefined {
    return this.events(roomId).find((event) => event.event_id === eventId);
  }

  texts(roomId: string): string[] {
    return this.events(roomId, 'm.room.message').map((event) => String(event.content.body));
  }

  /** State or timeline events of a type (the room's state as synced). */
  stateEvents(roomId: string, type: string): ClientEvent[] {
    return [...(this.state.get(roomId) ?? []), ...this.events(roomId)].filter(
      (event) => event.type === type && event.state_key !== undefined,
    );
  }

  ephemeralOf(roomId: string, type: string): { type: string; content: Body }[] {
    return (this.ephemeral.get(roomId) ?? []).filter((event) => event.type === type);
  }
}

function push<T>(map: Map<string, T[]>, key: string, values: T[]): void {
  if (values.length === 0) return;
  const list = map.get(key) ?? [];
  list.push(...values);
  map.set(key, list);
}
