/**
 * The real thing: matrix-js-sdk@37.5.0 clients with Rust crypto
 * (@matrix-org/matrix-sdk-crypto-wasm) against a real Weft. Two users exchange
 * encrypted messages and each decrypts the other's; then a new device of one
 * user restores the room key from server-side key backup and decrypts the old
 * message.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MsgType } from 'matrix-js-sdk';
import { CLIENT_V3, type Session } from '../support/fixture.js';
import { decryptedMessage, sdkSuite, until, withTimeout } from '../support/sdk.js';

// The Rust crypto's tracing writes straight to the console: keep the test output clean.
const quietConsole = { debug: console.debug, info: console.info, warn: console.warn };
console.debug = console.info = console.warn = () => {};

describe('matrix-js-sdk with Rust crypto', { timeout: 60_000 }, () => {
  const { api, clients } = sdkSuite();
  const startedClient = (session: Session) =>
    clients.started(
      session,
      { initialSyncLimit: 10 },
      {},
      {
        beforeStart: (client) => client.initRustCrypto({ useIndexedDB: false }),
        timeoutMs: 15_000,
      },
    );
  after(() => {
    Object.assign(console, quietConsole);
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
    await until(() => bobClient.getRoom(roomId) !== null, 'bob sees the invite', 10_000);
    await bobClient.joinRoom(roomId);
    await until(
      () => aliceClient.getRoom(roomId)?.getMember(bob.user_id)?.membership === 'join',
      'alice sees bob join',
      10_000,
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
      'room keys backed up',
      25_000,
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
      'the new device decrypts the old message',
      15_000,
    );
  });
});
