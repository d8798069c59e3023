/**
 * Encrypted chat across two servers with matrix-js-sdk@37.5.0 and Rust crypto
 * (@matrix-org/matrix-sdk-crypto-wasm): the host creates an encrypted room and
 * invites the guest, who joins; each sends a message the other decrypts, and
 * each client knows the other's device. What it takes of the servers: device
 * and one-time keys fetched from the other server (`/user/keys/query`,
 * `/user/keys/claim`), Olm and Megolm to-device messages carried as
 * `m.direct_to_device` EDUs, and the encrypted events as PDUs. Used between two
 * Wefts (test/e2e/federation-e2ee.test.ts) and between Weft and Synapse
 * (interop/synapse-e2ee.test.ts).
 */
import assert from 'node:assert/strict';
import { MsgType, type MatrixClient } from 'matrix-js-sdk';
import type { Session } from './client.js';
import { decryptedMessage, until, withTimeout, type SdkClients } from './sdk.js';

/** One side: its server's SDK clients and a logged-in user (with a device). */
export interface ChatSide {
  clients: SdkClients;
  session: Session;
}

/** How long something may take to cross between the servers. */
const CROSSING_MS = 30_000;

const withCrypto = {
  beforeStart: (client: MatrixClient) => client.initRustCrypto({ useIndexedDB: false }),
  timeoutMs: 15_000,
};

const start = (side: ChatSide) =>
  side.clients.started(side.session, { initialSyncLimit: 10 }, {}, withCrypto);

export async function encryptedChat(hostSide: ChatSide, guestSide: ChatSide): Promise<void> {
  const [host, guest] = [await start(hostSide), await start(guestSide)];
  const hostId = hostSide.session.user_id;
  const guestId = guestSide.session.user_id;
  const { room_id: roomId } = await host.createRoom({
    initial_state: [
      { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
    ],
  });
  await host.invite(roomId, guestId);
  await until(() => guest.getRoom(roomId) !== null, 'the guest sees the invite', CROSSING_MS);
  await guest.joinRoom(roomId);
  await until(
    () => host.getRoom(roomId)?.getMember(guestId)?.membership === 'join',
    'the host sees the guest join',
    CROSSING_MS,
  );
  // Each client sets a room's encryption up asynchronously once it sees the state event:
  // a message sent before that fails in the client ("unconfigured room").
  for (const client of [host, guest]) {
    await until(
      () => client.getCrypto()!.isEncryptionEnabledInRoom(roomId),
      `${client.getUserId()}'s client knows the room is encrypted`,
    );
  }
  await sendsDecrypted(host, guest, roomId, 'secret for the guest');
  await sendsDecrypted(guest, host, roomId, 'secret for the host');

  // Each client knows the other's device from the other's server.
  const guestDevices = await host.getCrypto()!.getUserDeviceInfo([guestId]);
  assert.ok(guestDevices.get(guestId)?.has(guestSide.session.device_id), 'host knows guest');
  const hostDevices = await guest.getCrypto()!.getUserDeviceInfo([hostId]);
  assert.ok(hostDevices.get(hostId)?.has(hostSide.session.device_id), 'guest knows host');
}

async function sendsDecrypted(
  from: MatrixClient,
  to: MatrixClient,
  roomId: string,
  body: string,
): Promise<void> {
  const arrived = decryptedMessage(to, roomId, body);
  await from.sendMessage(roomId, { msgtype: MsgType.Text, body });
  const event = await withTimeout(arrived, CROSSING_MS, `${to.getUserId()} decrypts`);
  assert.equal(event.getSender(), from.getUserId());
  assert.equal(event.getWireType(), 'm.room.encrypted', 'it travelled encrypted');
  assert.equal(event.decryptionFailureReason, null);
}
