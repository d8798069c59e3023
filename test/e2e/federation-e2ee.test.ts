/**
 * Encrypted chat across servers: alice on a.test and bob on b.test, each with
 * matrix-js-sdk@37.5.0 and Rust crypto (@matrix-org/matrix-sdk-crypto-wasm),
 * share an encrypted room and each decrypts the other's message. What it
 * takes on the servers: each user's device keys and one-time keys fetched
 * from their server (`/user/keys/query`, `/user/keys/claim`), the Olm and
 * Megolm to-device messages carried as `m.direct_to_device` EDUs, and the
 * encrypted events as PDUs.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { MsgType, type MatrixClient } from 'matrix-js-sdk';
import { Api, InProcessServer, type Session } from '../support/fixture.js';
import { decryptedMessage, SdkClients, sdkSuite, until, withTimeout } from '../support/sdk.js';
import { federatingConfig, freePort } from '../support/federation-pair.js';

// The Rust crypto's tracing writes straight to the console: keep the test output clean.
const quietConsole = { debug: console.debug, info: console.info, warn: console.warn };
console.debug = console.info = console.warn = () => {};

// The ports first: each server's config names the other's.
const [portA, portB] = [await freePort(), await freePort()];

describe(
  'encrypted chat between two Wefts (matrix-js-sdk, Rust crypto)',
  { timeout: 120_000 },
  () => {
    // a.test is the SDK suite's own server; b.test is started beside it.
    const suite = sdkSuite(federatingConfig('a.test', portA, 'b.test', portB));
    const serverB = new InProcessServer(federatingConfig('b.test', portB, 'a.test', portA));
    const apiB = new Api(() => serverB.url);
    const clientsB = new SdkClients(() => serverB.url);
    const withCrypto = {
      beforeStart: (client: MatrixClient) => client.initRustCrypto({ useIndexedDB: false }),
      timeoutMs: 15_000,
    };
    const start = (clients: SdkClients, session: Session) =>
      clients.started(session, { initialSyncLimit: 10 }, {}, withCrypto);

    before(() => serverB.start());
    afterEach(() => clientsB.stop());
    after(async () => {
      await serverB.close();
      Object.assign(console, quietConsole);
    });

    it('lets each side decrypt the other side’s messages', async () => {
      const alice = await suite.api.register('alice');
      const bob = await apiB.register('bob');
      const aliceClient = await start(suite.clients, alice);
      const bobClient = await start(clientsB, bob);

      const { room_id: roomId } = await aliceClient.createRoom({
        initial_state: [
          {
            type: 'm.room.encryption',
            state_key: '',
            content: { algorithm: 'm.megolm.v1.aes-sha2' },
          },
        ],
      });
      await aliceClient.invite(roomId, bob.user_id);
      await until(() => bobClient.getRoom(roomId) !== null, 'bob sees the invite', 20_000);
      await bobClient.joinRoom(roomId);
      await until(
        () => aliceClient.getRoom(roomId)?.getMember(bob.user_id)?.membership === 'join',
        'alice sees bob join',
        20_000,
      );

      // Each client sets a room's encryption up asynchronously once it sees the state event:
      // a message sent before that fails in the client ("unconfigured room").
      for (const [client, who] of [
        [aliceClient, 'alice'],
        [bobClient, 'bob'],
      ] as const) {
        await until(
          () => client.getCrypto()!.isEncryptionEnabledInRoom(roomId),
          `${who}'s client knows the room is encrypted`,
        );
      }
      const atBob = decryptedMessage(bobClient, roomId, 'secret for bob');
      await aliceClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'secret for bob' });
      const bobGot = await withTimeout(atBob, 30_000, 'bob decrypts');
      assert.equal(bobGot.getSender(), alice.user_id);
      assert.equal(bobGot.getWireType(), 'm.room.encrypted', 'it travelled encrypted');
      assert.equal(bobGot.decryptionFailureReason, null);

      const atAlice = decryptedMessage(aliceClient, roomId, 'secret for alice');
      await bobClient.sendMessage(roomId, { msgtype: MsgType.Text, body: 'secret for alice' });
      const aliceGot = await withTimeout(atAlice, 30_000, 'alice decrypts');
      assert.equal(aliceGot.getSender(), bob.user_id);
      assert.equal(aliceGot.getWireType(), 'm.room.encrypted');

      // Each client knows the other's device from the other's server.
      const bobDevices = await aliceClient.getCrypto()!.getUserDeviceInfo([bob.user_id]);
      assert.ok(bobDevices.get(bob.user_id)?.has(bob.device_id), "alice's client has bob's device");
      const aliceDevices = await bobClient.getCrypto()!.getUserDeviceInfo([alice.user_id]);
      assert.ok(aliceDevices.get(alice.user_id)?.has(alice.device_id), "bob's client has alice's");
      clientsB.stop();
      const t = Date.now();
      await serverB.stop();
      quietConsole.info('DEBUG stop B first', Date.now() - t);
    });
  },
);
