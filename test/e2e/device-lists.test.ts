/** device_lists in /sync and /keys/changes: key changes, joins and leaves of encrypted rooms, device deletion. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3, type Session } from '../support/client.js';
import { deviceKeysFor } from '../support/e2ee.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { assertResponseMatchesSpec } from '../support/spec-schemas.js';

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
  let server: TestServer;
  let api: Api;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  let encryptedRoom: string;
  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
    [alice, bob, carol] = [
      await api.register('alice'),
      await api.register('bob'),
      await api.register('carol'),
    ];
    encryptedRoom = await createRoom(alice, [ENCRYPTION]);
    await join(bob, encryptedRoom);
    // Carol shares only an unencrypted room with Alice.
    const plainRoom = await createRoom(alice, []);
    await join(carol, plainRoom);
  });
  after(() => server.close());

  const createRoom = async (who: Session, initialState: unknown[]) => {
    const res = await api.post(
      `${CLIENT_V3}/createRoom`,
      { preset: 'public_chat', initial_state: initialState },
      { token: who.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.room_id as string;
  };
  const join = async (who: Session, roomId: string) => {
    const res = await api.post(`${CLIENT_V3}/join/${roomId}`, {}, { token: who.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const sync = async (who: Session, since?: string, timeout = 0) => {
    const query = new URLSearchParams({ timeout: String(timeout) });
    if (since) query.set('since', since);
    const res = await api.get(`${CLIENT_V3}/sync?${query}`, { token: who.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('get', `${CLIENT_V3}/sync`, 200, res.body);
    return res.body as unknown as SyncBody;
  };
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
    const [bobStart, carolStart] = [await sync(bob), await sync(carol)];
    assert.equal(bobStart.device_lists, undefined, 'not on an initial sync');
    const waiting = sync(bob, bobStart.next_batch, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const began = Date.now();
    await uploadKeys(alice);
    const woken = await waiting;
    assert.ok(Date.now() - began < 5_000, 'woken by the change');
    assert.deepEqual(woken.device_lists, { changed: [alice.user_id], left: [] });
    const carolNext = await sync(carol, carolStart.next_batch);
    assert.deepEqual(carolNext.device_lists?.changed ?? [], [], 'no shared encrypted room');
    const between = await changes(bob, bobStart.next_batch, woken.next_batch);
    assert.deepEqual(between, { changed: [alice.user_id], left: [] });
  });

  it('reports users joining as changed and users leaving as left', async () => {
    const aliceStart = await sync(alice);
    await join(carol, encryptedRoom);
    const joined = await sync(alice, aliceStart.next_batch);
    assert.deepEqual(joined.device_lists?.changed, [carol.user_id]);
    const left = await api.post(
      `${CLIENT_V3}/rooms/${encryptedRoom}/leave`,
      {},
      {
        token: carol.access_token,
      },
    );
    assert.equal(left.status, 200);
    const afterLeave = await sync(alice, joined.next_batch);
    assert.deepEqual(afterLeave.device_lists, { changed: [], left: [carol.user_id] });
    const over = await changes(alice, aliceStart.next_batch, afterLeave.next_batch);
    assert.deepEqual(over.left, [carol.user_id]);
    assert.deepEqual(over.changed, []);
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
