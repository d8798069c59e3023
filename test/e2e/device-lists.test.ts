/**
 * device_lists in /sync and /keys/changes: key and cross-signing changes of users who share any room
 * (encrypted or not, as Synapse), joins and leaves, device deletion.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { assertResponseMatchesSpec } from '../support/spec-schemas.js';
import { crossSigningKey, deviceKeysFor, Ed25519Key } from '../support/e2ee.js';

interface SyncBody {
  next_batch: string;
  device_lists?: { changed: string[]; left: string[] };
}

const ENCRYPTION = {
  type: 'm.room.encryption',
  state_key: '',
  content: { algorithm: 'm.megolm.v1.aes-sha2' },
};

describe('device lists', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');
  let encryptedRoom: string;
  let plainRoom: string;
  /** Carol's first sync, before any key upload. */
  let carolFirst: string;
  before(async () => {
    encryptedRoom = await createRoom(alice, [ENCRYPTION]);
    await suite.join(bob, encryptedRoom);
    // Carol shares only an unencrypted room with Alice.
    plainRoom = await createRoom(alice, []);
    await suite.join(carol, plainRoom);
    carolFirst = (await sync(carol)).next_batch;
  });

  const createRoom = (who: Session, initialState: unknown[]) =>
    suite.createRoom(who, { preset: 'public_chat', initial_state: initialState });
  const sync = (who: Session, since?: string, timeout = 0) =>
    suite.sync<SyncBody>(who, { timeout: String(timeout), ...(since ? { since } : {}) });
  const changes = async (who: Session, from: string, to: string) => {
    const res = await api.get(`${CLIENT_V3}/keys/changes?from=${from}&to=${to}`, {
      token: who.access_token,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('get', `${CLIENT_V3}/keys/changes`, 200, res.body);
    return res.body as { changed: string[]; left: string[] };
  };
  const uploadKeys = async (who: Session) => {
    const res = await api.post(
      `${CLIENT_V3}/keys/upload`,
      { device_keys: deviceKeysFor(who).keys },
      { token: who.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };

  it('tells users who share an encrypted room of new device keys, waking their long-poll', async () => {
    const bobStart = await sync(bob);
    assert.equal(bobStart.device_lists, undefined, 'not on an initial sync');
    const waiting = sync(bob, bobStart.next_batch, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const began = Date.now();
    await uploadKeys(alice);
    const woken = await waiting;
    assert.ok(Date.now() - began < 5_000, 'woken by the change');
    assert.deepEqual(woken.device_lists, { changed: [alice.user_id], left: [] });
    const between = await changes(bob, bobStart.next_batch, woken.next_batch);
    assert.deepEqual(between, { changed: [alice.user_id], left: [] });
  });

  it('tells room-mates of an unencrypted room too, in /keys/changes and in /sync', async () => {
    const aliceStart = await sync(alice);
    const waiting = sync(alice, aliceStart.next_batch, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await uploadKeys(carol);
    const woken = await waiting;
    assert.deepEqual(woken.device_lists, { changed: [carol.user_id], left: [] });
    assert.deepEqual(await changes(alice, aliceStart.next_batch, woken.next_batch), {
      changed: [carol.user_id],
      left: [],
    });
    // And the other way round: Alice's keys (uploaded in the test above) reach Carol.
    const carolNext = await sync(carol, carolFirst);
    const both = { changed: [alice.user_id, carol.user_id], left: [] };
    assert.deepEqual(carolNext.device_lists, both);
    assert.deepEqual(await changes(carol, carolFirst, carolNext.next_batch), both);
    // Bob shares no room with Carol: not told.
    const bobChanges = await changes(bob, aliceStart.next_batch, woken.next_batch);
    assert.deepEqual(bobChanges, { changed: [], left: [] });
  });

  it('counts a cross-signing key upload as a change', async () => {
    const aliceStart = await sync(alice);
    const master = new Ed25519Key();
    const res = await api.post(
      `${CLIENT_V3}/keys/device_signing/upload`,
      {
        master_key: crossSigningKey(carol.user_id, 'master', master),
        self_signing_key: crossSigningKey(carol.user_id, 'self_signing', new Ed25519Key(), master),
      },
      { token: carol.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const next = await sync(alice, aliceStart.next_batch);
    assert.deepEqual(next.device_lists, { changed: [carol.user_id], left: [] });
    assert.deepEqual(await changes(alice, aliceStart.next_batch, next.next_batch), {
      changed: [carol.user_id],
      left: [],
    });
  });

  it('reports users joining as changed and users leaving as left', async () => {
    const dave = await api.register('dave');
    const aliceStart = await sync(alice);
    await suite.join(dave, encryptedRoom);
    const joined = await sync(alice, aliceStart.next_batch);
    assert.deepEqual(joined.device_lists?.changed, [dave.user_id]);
    await suite.leave(dave, encryptedRoom);
    const afterLeave = await sync(alice, joined.next_batch);
    assert.deepEqual(afterLeave.device_lists, { changed: [], left: [dave.user_id] });
    const over = await changes(alice, aliceStart.next_batch, afterLeave.next_batch);
    assert.deepEqual(over.left, [dave.user_id]);
    assert.deepEqual(over.changed, []);
  });

  it('reports as left only a user who shares no room any more, encrypted or not', async () => {
    const erin = await api.register('erin');
    await suite.join(erin, encryptedRoom);
    await suite.join(erin, plainRoom);
    const [aliceStart, erinStart] = [await sync(alice), await sync(erin)];
    await suite.leave(erin, encryptedRoom);
    const stillShared = await sync(alice, aliceStart.next_batch);
    assert.deepEqual(stillShared.device_lists, { changed: [], left: [] }, 'the plain room is left');
    await suite.leave(erin, plainRoom);
    const none = await sync(alice, stillShared.next_batch);
    assert.deepEqual(none.device_lists, { changed: [], left: [erin.user_id] });
    assert.deepEqual(await changes(alice, aliceStart.next_batch, none.next_batch), {
      changed: [],
      left: [erin.user_id],
    });
    // Erin, having left both rooms, no longer shares one with Alice, Bob or Carol.
    const erinNext = await sync(erin, erinStart.next_batch);
    assert.deepEqual(erinNext.device_lists, {
      changed: [],
      left: [alice.user_id, bob.user_id, carol.user_id].sort(),
    });
  });

  it('announces a deleted or logged-out device and removes its keys', async () => {
    const second = (await api.login('alice')).body;
    await uploadKeys(second);
    const bobStart = await sync(bob);
    const logout = await api.post(`${CLIENT_V3}/logout`, {}, { token: second.access_token });
    assert.equal(logout.status, 200);
    const next = await sync(bob, bobStart.next_batch);
    assert.deepEqual(next.device_lists?.changed, [alice.user_id]);
    const query = await api.post(
      `${CLIENT_V3}/keys/query`,
      { device_keys: { [alice.user_id]: [] } },
      { token: bob.access_token },
    );
    const devices = (query.body.device_keys as Record<string, Record<string, unknown>>)[
      alice.user_id
    ]!;
    assert.deepEqual(
      Object.keys(devices),
      [alice.device_id],
      'the logged-out device’s keys are gone',
    );
  });
});
