/**
 * matrix-js-sdk@37.5.0 clients with their own sync loop against a test server:
 * quiet, started and prepared, and stopped cleanly. Importing this module
 * silences the SDK's global logger and starts remembering timers (see below).
 */
import {
  ClientEvent,
  createClient,
  MatrixEventEvent,
  RoomEvent,
  SyncState,
  type ICreateClientOpts,
  type IStartClientOpts,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from 'matrix-js-sdk';
import { logger as sdkGlobalLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { after, afterEach, before } from 'node:test';
import type { Session } from './client.js';
import { serverSuite } from './fixture.js';
import type { ConfigOverrides } from './server.js';

/** The SDK logs every request at debug level; the test output stays clean without it. */
export const silentLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => silentLogger,
};
// The sync loop logs through the SDK's global logger as well.
(sdkGlobalLogger as unknown as { setLevel(level: string): void }).setLevel('silent');

/**
 * The SDK arms a timer for each request's local timeout (110 s for a /sync) and
 * never clears it, even once the request is over; the test process would wait
 * them out. Timers armed from now on are remembered; `releaseTimers` unrefs them.
 * Once every `sdkSuite` has ended, timers armed later (stopped clients' last
 * requests settling) are unref'd at once.
 */
const armedTimers: NodeJS.Timeout[] = [];
let liveSuites = 0;
let ended = false;
export const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
  const timer = originalSetTimeout(...args);
  if (ended) timer.unref();
  else armedTimers.push(timer);
  return timer;
}) as typeof setTimeout;

export function releaseTimers(): void {
  for (const timer of armedTimers.splice(0)) timer.unref();
}

export interface StartOptions {
  /** Runs on the new client before it starts (e.g. `initRustCrypto`). */
  beforeStart?: (client: MatrixClient) => Promise<void>;
  /** How long the initial sync may take. */
  timeoutMs?: number;
}

/** Clients made by `create` and `started`, stopped together by `stop`. */
export class SdkClients {
  private readonly clients: MatrixClient[] = [];

  constructor(private readonly baseUrl: () => string) {}

  /** A client for the session (none: not logged in); not started. */
  create(session?: Session, options: Partial<ICreateClientOpts> = {}): MatrixClient {
    const client = createClient({
      baseUrl: this.baseUrl(),
      ...(session && {
        accessToken: session.access_token,
        userId: session.user_id,
        deviceId: session.device_id,
      }),
      logger: silentLogger,
      ...options,
    });
    this.clients.push(client);
    return client;
  }

  /** A client whose initial sync is in (its sync loop reported PREPARED). */
  async started(
    session: Session,
    startOptions: IStartClientOpts = { initialSyncLimit: 5 },
    createOptions: Partial<ICreateClientOpts> = {},
    { beforeStart, timeoutMs = 10_000 }: StartOptions = {},
  ): Promise<MatrixClient> {
    const client = this.create(session, createOptions);
    await beforeStart?.(client);
    const ready = prepared(client);
    await client.startClient(startOptions);
    await withTimeout(ready, timeoutMs, `${session.user_id} initial sync`);
    return client;
  }

  stop(): void {
    for (const client of this.clients.splice(0)) client.stopClient();
  }
}

/**
 * The setup every SDK suite shares, registered on the enclosing describe: the
 * fixture of `serverSuite` (a test server, its Api, users and room helpers),
 * the clients stopped after each test, the SDK's timers released after all.
 */
export function sdkSuite(overrides: ConfigOverrides = {}) {
  const fixture = serverSuite(overrides);
  const clients = new SdkClients(() => fixture.server.url);
  before(() => {
    liveSuites++;
    ended = false;
  });
  afterEach(() => clients.stop());
  after(() => {
    releaseTimers();
    ended = --liveSuites === 0;
  });
  return Object.assign(fixture, { clients });
}

/** Resolves when the client's sync loop reports PREPARED (its initial sync is in). */
export function prepared(client: MatrixClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.on(ClientEvent.Sync, (state: SyncState, _prev, data) => {
      if (state === SyncState.Prepared) resolve();
      if (state === SyncState.Error) reject(new Error(`sync error: ${String(data?.error)}`));
    });
  });
}

/** Resolves with the first live timeline event in the room with this body. */
export function messageArrives(
  client: MatrixClient,
  roomId: string,
  body: string,
): Promise<MatrixEvent> {
  return new Promise((resolve) => {
    client.on(RoomEvent.Timeline, (event: MatrixEvent, room: Room | undefined) => {
      if (room?.roomId === roomId && event.getContent().body === body) resolve(event);
    });
  });
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      originalSetTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref(),
    ),
  ]);
}

/** Polls until `check` holds, or fails naming `what`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => originalSetTimeout(resolve, 25));
  }
}

/** Resolves with the first event in the room that arrived encrypted and decrypts to `body`. */
export function decryptedMessage(
  client: MatrixClient,
  roomId: string,
  body: string,
): Promise<MatrixEvent> {
  return new Promise((resolve) => {
    const check = (event: MatrixEvent) => {
      if (event.getRoomId() === roomId && event.isEncrypted() && event.getContent().body === body) {
        resolve(event);
      }
    };
    client.on(RoomEvent.Timeline, (event: MatrixEvent, room: Room | undefined) => {
      if (room?.roomId === roomId) check(event);
    });
    client.on(MatrixEventEvent.Decrypted, check);
  });
}
