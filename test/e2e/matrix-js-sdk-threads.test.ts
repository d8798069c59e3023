/**
 * matrix-js-sdk@37.5.0 with thread support on, against a real Weft: one client
 * posts a thread reply; the other client's SDK places it in the thread
 * (`room.getThread(rootId)`) with the right reply count. The SDK turns on
 * server-side threads itself, from /versions listing v1.4.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  ClientEvent,
  createClient,
  FeatureSupport,
  MsgType,
  RoomEvent,
  SyncState,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from 'matrix-js-sdk';
import { logger as sdkGlobalLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { Api, CLIENT_V3, type Session } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';

const silentLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  getChild: () => silentLogger,
};

// The sync loop logs through the SDK's global logger as well: keep the test output clean.
(sdkGlobalLogger as unknown as { setLevel(level: string): void }).setLevel('silent');

/**
 * The SDK arms a timer for each request's local timeout (110 s for a /sync) and
 * never clears it, even once the request is over; the test process would wait
 * them out. Timers armed during the test are remembered and unref'd at the end.
 */
const armedTimers: NodeJS.Timeout[] = [];
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
  const timer = originalSetTimeout(...args);
  armedTimers.push(timer);
  return timer;
}) as typeof setTimeout;

/** Resolves when the client's sync loop reports PREPARED (its initial sync is in). */
function prepared(client: MatrixClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.on(ClientEvent.Sync, (state: SyncState, _prev, data) => {
      if (state === SyncState.Prepared) resolve();
      if (state === SyncState.Error) reject(new Error(`sync error: ${String(data?.error)}`));
    });
  });
}

/** Resolves with the first live timeline event in the room with this body. */
function messageArrives(client: MatrixClient, roomId: string, body: string): Promise<MatrixEvent> {
  return new Promise((resolve) => {
    client.on(RoomEvent.Timeline, (event: MatrixEvent, room: Room | undefined) => {
      if (room?.roomId === roomId && event.getContent().body === body) resolve(event);
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

describe('matrix-js-sdk threads', { timeout: 60_000 }, () => {
  let server: TestServer;
  let api: Api;
  const clients: MatrixClient[] = [];

  const startedClient = async (session: Session) => {
    const client = createClient({
      baseUrl: server.url,
      accessToken: session.access_token,
      userId: session.user_id,
      deviceId: session.device_id,
      logger: silentLogger,
    });
    clients.push(client);
    const ready = prepared(client);
    await client.startClient({ initialSyncLimit: 10, threadSupport: true });
    await withTimeout(ready, 10_000, `${session.user_id} initial sync`);
    return client;
  };

  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.stopClient();
  });
  after(async () => {
    await server?.close();
    for (const timer of armedTimers.splice(0)) timer.unref();
  });

  it('places a thread reply from another client in its thread, with the reply count', async () => {
    const alice = await api.register('sdkalice');
    const bob = await api.register('sdkbob');
    const created = await api.post(
      `${CLIENT_V3}/createRoom`,
      { preset: 'public_chat' },
      { token: alice.access_token },
    );
    const roomId = String(created.body.room_id);
    const joined = await api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: bob.access_token });
    assert.equal(joined.status, 200);
    const root = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/root`,
      { msgtype: 'm.text', body: 'thread root' },
      { token: alice.access_token },
    );
    const rootId = String(root.body.event_id);
    // One reply before the clients start: it reaches them through the bundled aggregation.
    const earlier = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/early`,
      {
        msgtype: 'm.text',
        body: 'early reply',
        'm.relates_to': { rel_type: 'm.thread', event_id: rootId },
      },
      { token: alice.access_token },
    );
    assert.equal(earlier.status, 200);

    const aliceClient = await startedClient(alice);
    const bobClient = await startedClient(bob);
    // From /versions alone: stable threads, the threads list and forward pagination.
    assert.deepEqual(await bobClient.doesServerSupportThread(), {
      threads: FeatureSupport.Stable,
      list: FeatureSupport.Stable,
      fwdPagination: FeatureSupport.Stable,
    });
    const arrives = messageArrives(bobClient, roomId, 'in the thread');
    await aliceClient.sendMessage(roomId, rootId, {
      msgtype: MsgType.Text,
      body: 'in the thread',
    });
    const reply = await withTimeout(arrives, 10_000, 'bob receives the reply');
    assert.equal(reply.threadRootId, rootId);

    const thread = bobClient.getRoom(roomId)?.getThread(rootId);
    assert.ok(thread, 'bob’s SDK knows the thread');
    await withTimeout(
      (async () => {
        while (thread.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      5_000,
      `the thread has both replies (length ${thread.length})`,
    );
    assert.equal(thread.length, 2);
    assert.equal(thread.replyToEvent?.getContent().body, 'in the thread');
  });
});
