/**
 * matrix-js-sdk@37.5.0 with its own sync loop against a real Weft: two clients
 * call `startClient()`, exchange messages, each sees the other's message arrive
 * through the SDK's sync, and then `scrollback` loads older history through
 * /messages.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  ClientEvent,
  createClient,
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

describe('matrix-js-sdk sync loop', { timeout: 60_000 }, () => {
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
    await client.startClient({ initialSyncLimit: 5, lazyLoadMembers: true });
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

  it('two started clients see each other’s messages through sync, then scroll back', async () => {
    const alice = await api.register('sdkalice');
    const bob = await api.register('sdkbob');
    const created = await api.post(
      `${CLIENT_V3}/createRoom`,
      { preset: 'public_chat', name: 'SDK sync' },
      { token: alice.access_token },
    );
    const roomId = String(created.body.room_id);
    const joined = await api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: bob.access_token });
    assert.equal(joined.status, 200);
    // Older history, before either client starts: scrollback must fetch it.
    for (let i = 0; i < 12; i++) {
      const res = await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/old${i}`,
        { msgtype: 'm.text', body: `old ${i}` },
        { token: alice.access_token },
      );
      assert.equal(res.status, 200);
    }

    const aliceClient = await startedClient(alice);
    const bobClient = await startedClient(bob);
    assert.equal(bobClient.getRoom(roomId)?.name, 'SDK sync');

    const toBob = messageArrives(bobClient, roomId, 'hello bob');
    await aliceClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hello bob' });
    const atBob = await withTimeout(toBob, 10_000, 'bob receives');
    assert.equal(atBob.getSender(), alice.user_id);

    const toAlice = messageArrives(aliceClient, roomId, 'hello alice');
    await bobClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'hello alice' });
    const atAlice = await withTimeout(toAlice, 10_000, 'alice receives');
    assert.equal(atAlice.getSender(), bob.user_id);

    const room = bobClient.getRoom(roomId)!;
    const bodiesOf = () =>
      room
        .getLiveTimeline()
        .getEvents()
        .map((e) => e.getContent().body)
        .filter((b): b is string => typeof b === 'string');
    assert.ok(!bodiesOf().includes('old 0'), 'the oldest message is not in the initial timeline');
    for (let i = 0; i < 5 && !bodiesOf().includes('old 0'); i++) {
      await bobClient.scrollback(room, 10);
    }
    const bodies = bodiesOf();
    assert.ok(bodies.includes('old 0'), `scrollback reached the oldest message: ${bodies}`);
    const expected = [
      ...Array.from({ length: 12 }, (_, i) => `old ${i}`),
      'hello bob',
      'hello alice',
    ];
    assert.deepEqual(bodies, expected, 'every message once, in order');
  });
});
