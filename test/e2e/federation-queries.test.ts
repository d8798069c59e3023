/**
 * The Server-Server queries between two real Wefts: served (`/query/profile`,
 * `/user/devices`, `/user/keys/query`, `/user/keys/claim`, `/openid/userinfo`),
 * checked against the spec's schemas, and used by the client API (remote
 * profiles, `/keys/query` and `/keys/claim` for remote users with the
 * `failures` map, remote device lists refreshed by the EDUs).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CLIENT_V3, type Session, type SyncBody } from '../support/fixture.js';
import { assertResponseMatchesSpec, assertSpecError } from '../support/spec-schemas.js';
import { crossSigningKey, deviceKeysFor, Ed25519Key, oneTimeKeys } from '../support/e2ee.js';
import {
  freePort,
  syncUntil,
  type FederatingSide,
  startFederatingPair,
  closeFederatingPair,
} from '../support/federation-pair.js';

type Json = Record<string, unknown>;
type KeysQueryBody = {
  device_keys: Record<string, Record<string, Json>>;
  failures: Record<string, { status: number; message: string }>;
  master_keys: Record<string, Json>;
  self_signing_keys: Record<string, Json>;
  user_signing_keys?: Record<string, Json>;
};

const FED_V1 = '/_matrix/federation/v1';

/** A TCP server that accepts connections and never answers (a peer that hangs). */
async function silentServer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('federation queries', { timeout: 120_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let hanging: { close(): Promise<void> };
  let alice: Session;
  let bob: Session;
  let aliceIdentity: Ed25519Key;
  const master = new Ed25519Key();
  const selfSigning = new Ed25519Key();
  const userSigning = new Ed25519Key();

  /** b.test's signed request to a.test. */
  const askA = (method: 'GET' | 'POST', path: string, body?: Json) =>
    b.server.weft.federation.request({
      destination: 'a.test',
      method,
      path,
      ...(body ? { body: body as never } : {}),
    });
  const keysQuery = async (who: Session, body: Json) => {
    const res = await b.api.post(`${CLIENT_V3}/keys/query`, body, { token: who.access_token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/query`, 200, res.body);
    return res.body as unknown as KeysQueryBody;
  };

  before(async () => {
    // down.test: nothing listens; slow.test: accepts and never answers.
    const [downPort, slowPort] = [await freePort(), await freePort()];
    hanging = await silentServer(slowPort);
    [a, b] = await startFederatingPair({
      'down.test': `http://127.0.0.1:${downPort}`,
      'slow.test': `http://127.0.0.1:${slowPort}`,
    });
    alice = await a.api.register('alice');
    bob = await b.api.register('bob');
    await a.api.put(
      `${CLIENT_V3}/profile/${encodeURIComponent(alice.user_id)}/displayname`,
      { displayname: 'Alice A' },
      { token: alice.access_token },
    );
    const device = deviceKeysFor(alice);
    aliceIdentity = device.identity;
    const upload = await a.api.post(
      `${CLIENT_V3}/keys/upload`,
      { device_keys: device.keys, one_time_keys: oneTimeKeys(alice, aliceIdentity, 3) },
      { token: alice.access_token },
    );
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    const signing = await a.api.post(
      `${CLIENT_V3}/keys/device_signing/upload`,
      {
        master_key: crossSigningKey(alice.user_id, 'master', master),
        self_signing_key: crossSigningKey(alice.user_id, 'self_signing', selfSigning, master),
        user_signing_key: crossSigningKey(alice.user_id, 'user_signing', userSigning, master),
      },
      { token: alice.access_token },
    );
    assert.equal(signing.status, 200, JSON.stringify(signing.body));
  });

  after(async () => {
    await closeFederatingPair([a, b]);
    await hanging?.close();
  });

  describe('served', () => {
    it('keeps its public room list from other servers by default (as Synapse)', async () => {
      for (const method of ['GET', 'POST'] as const) {
        const res = await askA(method, `${FED_V1}/publicRooms`, method === 'POST' ? {} : undefined);
        assert.equal(res.status, 403, JSON.stringify(res.body));
        assertSpecError(res.body, 'M_FORBIDDEN');
      }
      // A's client asking for B's list gets B's refusal.
      const remote = await a.api.get(`${CLIENT_V3}/publicRooms?server=b.test`, {
        token: alice.access_token,
      });
      assert.equal(remote.status, 403, JSON.stringify(remote.body));
      assertSpecError(remote.body, 'M_FORBIDDEN');
    });

    it('answers /query/profile with the profile, or one field, as the spec shapes it', async () => {
      const template = `${FED_V1}/query/profile`;
      const whole = await askA('GET', `${template}?user_id=${encodeURIComponent(alice.user_id)}`);
      assert.equal(whole.status, 200, JSON.stringify(whole.body));
      assertResponseMatchesSpec('GET', template, 200, whole.body);
      assert.deepEqual(whole.body, { displayname: 'Alice A' });

      const one = await askA(
        'GET',
        `${template}?user_id=${encodeURIComponent(alice.user_id)}&field=displayname`,
      );
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, { displayname: 'Alice A' });

      const unset = await askA(
        'GET',
        `${template}?user_id=${encodeURIComponent(alice.user_id)}&field=avatar_url`,
      );
      assert.equal(unset.status, 404);
      assertResponseMatchesSpec('GET', template, 404, unset.body);
      assertSpecError(unset.body, 'M_NOT_FOUND');

      const unknown = await askA(
        'GET',
        `${template}?user_id=${encodeURIComponent('@nobody:a.test')}`,
      );
      assert.equal(unknown.status, 404);
      assertSpecError(unknown.body, 'M_NOT_FOUND');

      const foreign = await askA('GET', `${template}?user_id=${encodeURIComponent(bob.user_id)}`);
      assert.equal(foreign.status, 400);
      assertSpecError(foreign.body, 'M_INVALID_PARAM');

      const missing = await askA('GET', template);
      assert.equal(missing.status, 400);
      assertSpecError(missing.body, 'M_MISSING_PARAM');
    });

    it('refuses an unsigned query with 401', async () => {
      const res = await fetch(
        `${a.server.url}${FED_V1}/query/profile?user_id=${encodeURIComponent(alice.user_id)}`,
      );
      assert.equal(res.status, 401);
    });

    it('answers /user/devices with the devices, their keys and the cross-signing keys', async () => {
      const res = await askA('GET', `${FED_V1}/user/devices/${encodeURIComponent(alice.user_id)}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertResponseMatchesSpec('GET', `${FED_V1}/user/devices/{userId}`, 200, res.body);
      const body = res.body as {
        user_id: string;
        stream_id: number;
        devices: { device_id: string; keys: Json; device_display_name?: string }[];
        master_key: Json;
        self_signing_key: Json;
        user_signing_key?: Json;
      };
      assert.equal(body.user_id, alice.user_id);
      assert.ok(Number.isSafeInteger(body.stream_id) && body.stream_id > 0);
      assert.deepEqual(
        body.devices.map((d) => d.device_id),
        [alice.device_id],
      );
      assert.equal(body.devices[0]!.keys.device_id, alice.device_id);
      // Device names stay on this server (Synapse's default).
      assert.equal(body.devices[0]!.device_display_name, undefined);
      assert.deepEqual(body.master_key.usage, ['master']);
      assert.deepEqual(body.self_signing_key.usage, ['self_signing']);
      assert.equal(body.user_signing_key, undefined);

      const foreign = await askA(
        'GET',
        `${FED_V1}/user/devices/${encodeURIComponent(bob.user_id)}`,
      );
      assert.equal(foreign.status, 400);
      assertSpecError(foreign.body, 'M_INVALID_PARAM');
    });

    it('answers /user/keys/query without user-signing keys', async () => {
      const template = `${FED_V1}/user/keys/query`;
      const res = await askA('POST', template, { device_keys: { [alice.user_id]: [] } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertResponseMatchesSpec('POST', template, 200, res.body);
      const body = res.body as KeysQueryBody;
      const device = body.device_keys[alice.user_id]![alice.device_id]!;
      assert.equal(device.user_id, alice.user_id);
      assert.ok(body.master_keys[alice.user_id]);
      assert.ok(body.self_signing_keys[alice.user_id]);
      assert.equal(body.user_signing_keys, undefined);

      const some = await askA('POST', template, { device_keys: { [alice.user_id]: ['NOPE'] } });
      assert.deepEqual((some.body as KeysQueryBody).device_keys, { [alice.user_id]: {} });

      const foreign = await askA('POST', template, { device_keys: { [bob.user_id]: [] } });
      assert.equal(foreign.status, 400);
      assertSpecError(foreign.body, 'M_INVALID_PARAM');
      const missing = await askA('POST', template, {});
      assert.equal(missing.status, 400);
      assertSpecError(missing.body, 'M_MISSING_PARAM');
      const malformed = await askA('POST', template, { device_keys: { [alice.user_id]: 'all' } });
      assert.equal(malformed.status, 400);
      assertSpecError(malformed.body, 'M_BAD_JSON');
    });

    it('answers /user/keys/claim with each one-time key once', async () => {
      const template = `${FED_V1}/user/keys/claim`;
      const claim = () =>
        askA('POST', template, {
          one_time_keys: { [alice.user_id]: { [alice.device_id]: 'signed_curve25519' } },
        });
      const first = await claim();
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assertResponseMatchesSpec('POST', template, 200, first.body);
      const second = await claim();
      const keyIdsOf = (body: unknown) =>
        Object.keys(
          (body as { one_time_keys: Record<string, Record<string, Json>> }).one_time_keys[
            alice.user_id
          ]![alice.device_id]!,
        );
      const [firstId] = keyIdsOf(first.body);
      const [secondId] = keyIdsOf(second.body);
      assert.match(firstId!, /^signed_curve25519:/);
      assert.notEqual(firstId, secondId);

      const foreign = await askA('POST', template, {
        one_time_keys: { [bob.user_id]: { DEVICE: 'signed_curve25519' } },
      });
      assert.equal(foreign.status, 400);
      assertSpecError(foreign.body, 'M_INVALID_PARAM');
    });

    it('answers /openid/userinfo for a token of ours', async () => {
      const issued = await a.api.post(
        `${CLIENT_V3}/user/${encodeURIComponent(alice.user_id)}/openid/request_token`,
        {},
        { token: alice.access_token },
      );
      assert.equal(issued.status, 200);
      const res = await fetch(
        `${a.server.url}${FED_V1}/openid/userinfo?access_token=${String(issued.body.access_token)}`,
      );
      const body = (await res.json()) as unknown;
      assert.equal(res.status, 200);
      assertResponseMatchesSpec('GET', `${FED_V1}/openid/userinfo`, 200, body);
      assert.deepEqual(body, { sub: alice.user_id });
    });
  });

  describe('used by the client API', () => {
    it("reads a remote user's profile from their server", async () => {
      const path = `${CLIENT_V3}/profile/${encodeURIComponent(alice.user_id)}`;
      const whole = await b.api.get(path, { token: bob.access_token });
      assert.equal(whole.status, 200, JSON.stringify(whole.body));
      assertResponseMatchesSpec('get', `${CLIENT_V3}/profile/{userId}`, 200, whole.body);
      assert.equal(whole.body.displayname, 'Alice A');
      const name = await b.api.get(`${path}/displayname`);
      assert.equal(name.status, 200);
      assert.deepEqual(name.body, { displayname: 'Alice A' });
      const avatar = await b.api.get(`${path}/avatar_url`);
      assert.equal(avatar.status, 404);
      assertSpecError(avatar.body, 'M_NOT_FOUND');
      const unknown = await b.api.get(
        `${CLIENT_V3}/profile/${encodeURIComponent('@nobody:a.test')}`,
      );
      assert.equal(unknown.status, 404);
      assertSpecError(unknown.body, 'M_NOT_FOUND');
      const down = await b.api.get(`${CLIENT_V3}/profile/${encodeURIComponent('@x:down.test')}`);
      assert.equal(down.status, 502);
      assertSpecError(down.body);
    });

    it("queries and claims a remote user's keys through their server", async () => {
      const body = await keysQuery(bob, { device_keys: { [alice.user_id]: [] } });
      assert.deepEqual(body.failures, {});
      const device = body.device_keys[alice.user_id]![alice.device_id]!;
      assert.equal(
        (device.keys as Record<string, string>)[`ed25519:${alice.device_id}`],
        aliceIdentity.publicKey,
      );
      assert.deepEqual(body.master_keys[alice.user_id]!.keys, {
        [`ed25519:${master.publicKey}`]: master.publicKey,
      });
      assert.ok(body.self_signing_keys[alice.user_id]);
      assert.equal(body.user_signing_keys?.[alice.user_id], undefined);

      const claim = await b.api.post(
        `${CLIENT_V3}/keys/claim`,
        { one_time_keys: { [alice.user_id]: { [alice.device_id]: 'signed_curve25519' } } },
        { token: bob.access_token },
      );
      assert.equal(claim.status, 200, JSON.stringify(claim.body));
      assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/claim`, 200, claim.body);
      const claimed = (claim.body.one_time_keys as Record<string, Record<string, Json>>)[
        alice.user_id
      ]![alice.device_id]!;
      const [keyId] = Object.keys(claimed);
      assert.match(keyId!, /^signed_curve25519:/);
      assert.deepEqual(claim.body.failures, {});
    });

    it("sees a room-mate's new device after their server's device list update", async () => {
      const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
      const join = await b.api.post(
        `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?server_name=a.test`,
        {},
        { token: bob.access_token },
      );
      assert.equal(join.status, 200, JSON.stringify(join.body));
      const before = await keysQuery(bob, { device_keys: { [alice.user_id]: [] } });
      assert.deepEqual(Object.keys(before.device_keys[alice.user_id]!), [alice.device_id]);
      const synced: SyncBody = await b.helpers.sync(bob);

      const laptop = (await a.api.login('alice')).body;
      const upload = await a.api.post(
        `${CLIENT_V3}/keys/upload`,
        { device_keys: deviceKeysFor(laptop).keys },
        { token: laptop.access_token },
      );
      assert.equal(upload.status, 200, JSON.stringify(upload.body));

      // The EDU reaches b.test: bob's sync names alice, and the next query asks a.test again.
      const changed = (s: SyncBody) =>
        ((s as { device_lists?: { changed?: string[] } }).device_lists?.changed ?? []).includes(
          alice.user_id,
        );
      await syncUntil(b, bob, changed, { since: synced.next_batch });
      const after = await keysQuery(bob, { device_keys: { [alice.user_id]: [] } });
      assert.deepEqual(
        Object.keys(after.device_keys[alice.user_id]!).sort(),
        [alice.device_id, laptop.device_id].sort(),
      );
      const one = await keysQuery(bob, { device_keys: { [alice.user_id]: [laptop.device_id] } });
      assert.deepEqual(Object.keys(one.device_keys[alice.user_id]!), [laptop.device_id]);
    });

    it('records unreachable and silent servers in failures, and answers the rest', async () => {
      const started = Date.now();
      const body = await keysQuery(bob, {
        device_keys: { [alice.user_id]: [], '@x:down.test': [], '@y:slow.test': [] },
        timeout: 1_000,
      });
      assert.ok(Date.now() - started < 8_000, 'the timeout bounds the wait');
      assert.deepEqual(Object.keys(body.failures).sort(), ['down.test', 'slow.test']);
      assert.equal(body.failures['down.test']!.status, 503);
      assert.equal(body.failures['slow.test']!.status, 503);
      assert.ok(body.device_keys[alice.user_id]![alice.device_id]);

      const claim = await b.api.post(
        `${CLIENT_V3}/keys/claim`,
        {
          one_time_keys: { '@x:down.test': { DEV: 'signed_curve25519' } },
          timeout: 1_000,
        },
        { token: bob.access_token },
      );
      assert.equal(claim.status, 200, JSON.stringify(claim.body));
      assertResponseMatchesSpec('post', `${CLIENT_V3}/keys/claim`, 200, claim.body);
      assert.deepEqual(Object.keys(claim.body.failures as Json), ['down.test']);
    });

    it('answers a room-mate from the cache while their server is down', async () => {
      await a.server.stop();
      try {
        const body = await keysQuery(bob, {
          device_keys: { [alice.user_id]: [], '@zed:a.test': [] },
          timeout: 1_000,
        });
        // alice shares a room with bob: her keys are cached; zed's are not, so a.test is asked.
        assert.ok(body.device_keys[alice.user_id]![alice.device_id]);
        assert.deepEqual(Object.keys(body.failures), ['a.test']);
      } finally {
        await a.server.start();
      }
    });
  });
});
