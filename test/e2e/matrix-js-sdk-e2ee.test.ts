/**
 * The real thing: matrix-js-sdk@37.5.0 clients with Rust crypto
 * (@matrix-org/matrix-sdk-crypto-wasm) against a real Weft. Two users exchange
 * encrypted messages and each decrypts the other's; then a new device of one
 * user restores the room key from server-side key backup and decrypts the old
 * message.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  ClientEvent,
  createClient,
  MatrixEventEvent,
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
(sdkGlobalLogger as unknown as { setLevel(level: string): void }).setLevel('silent');
// The Rust crypto's tracing writes straight to the console: keep the test output clean.
const quietConsole = { debug: console.debug, info: console.info, warn: console.warn };
console.debug = console.info = console.warn = () => {};

/** The SDK leaves request timers armed (see matrix-js-sdk-sync.test.ts): unref'd at the end. */
const armedTimers: NodeJS.Timeout[] = [];
let ending = false;
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
  const timer = originalSetTimeout(...args);
  // Stopped clients still arm timers as their last requests settle.
  if (ending) timer.unref();
  else armedTimers.push(timer);
  return timer;
}) as typeof setTimeout;

function prepared(client: MatrixClient): Promise<void> {
  return new Promise((resolve, reject) => {
    client.on(ClientEvent.Sync, (state: SyncState, _prev, data) => {
      if (state === SyncState.Prepared) resolve();
      if (state === SyncState.Error) reject(new Error(`sync error: ${String(data?.error)}`));
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

async function until(test: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves with the decrypted body of the first encrypted event in the room from `sender`. */
function decryptedMessage(
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

describe('matrix-js-sdk with Rust crypto', { timeout: 60_000 }, () => {
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
    await client.initRustCrypto({ useIndexedDB: false });
    const ready = prepared(client);
    await client.startClient({ initialSyncLimit: 10 });
    await withTimeout(ready, 15_000, `${session.user_id} initial sync`);
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
    ending = true;
    Object.assign(console, quietConsole);
    for (const timer of armedTimers.splice(0)) timer.unref();
  });

  it('exchanges encrypted messages, then restores a room key from backup on a new device', async () => {
    const alice = await api.register('cryptoalice');
    const bob = await api.register('cryptobob');
    const aliceClient = await startedClient(alice);
    const bobClient = await startedClient(bob);
    const aliceCrypto = aliceClient.getCrypto()!;
    await aliceCrypto.resetKeyBackup();

    const { room_id: roomId } = await aliceClient.createRoom({
      invite: [bob.user_id],
      initial_state: [
        {
          type: 'm.room.encryption',
          state_key: '',
          content: { algorithm: 'm.megolm.v1.aes-sha2' },
        },
      ],
    });
    await until(() => bobClient.getRoom(roomId) !== null, 10_000, 'bob sees the invite');
    await bobClient.joinRoom(roomId);
    await until(
      () => aliceClient.getRoom(roomId)?.getMember(bob.user_id)?.membership === 'join',
      10_000,
      'alice sees bob join',
    );

    const atBob = decryptedMessage(bobClient, roomId, 'secret for bob');
    await aliceClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'secret for bob' });
    const bobGot = await withTimeout(atBob, 20_000, 'bob decrypts');
    assert.equal(bobGot.getSender(), alice.user_id);
    assert.equal(bobGot.getWireType(), 'm.room.encrypted', 'it travelled encrypted');

    const atAlice = decryptedMessage(aliceClient, roomId, 'secret for alice');
    await bobClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'secret for alice' });
    const aliceGot = await withTimeout(atAlice, 20_000, 'alice decrypts');
    assert.equal(aliceGot.getSender(), bob.user_id);

    // Alice's room keys reach the backup (the SDK uploads them after a random delay).
    await until(
      async () => {
        const res = await api.get(`${CLIENT_V3}/room_keys/version`, { token: alice.access_token });
        return Number(res.body.count) >= 1;
      },
      25_000,
      'room keys backed up',
    );
    const backupKey = await aliceCrypto.getSessionBackupPrivateKey();
    const version = (await aliceCrypto.getActiveSessionBackupVersion())!;
    assert.ok(backupKey && version, 'alice has a backup');

    const laptop = (await api.login('cryptoalice')).body;
    const laptopClient = await startedClient(laptop);
    const laptopCrypto = laptopClient.getCrypto()!;
    await laptopCrypto.storeSessionBackupPrivateKey(backupKey, version);
    const restored = await laptopCrypto.restoreKeyBackup();
    assert.ok(restored.imported >= 1, `imported ${restored.imported} of ${restored.total}`);
    const room = laptopClient.getRoom(roomId)!;
    await until(
      () =>
        room
          .getLiveTimeline()
          .getEvents()
          .some((e) => e.isEncrypted() && e.getContent().body === 'secret for bob'),
      15_000,
      'the new device decrypts the old message',
    );
  });
});
