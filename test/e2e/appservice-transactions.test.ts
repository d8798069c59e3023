/**
 * Homeserver → application service over HTTP, against a plain node:http
 * service (test/support/fake-appservice.ts): transactions in stream order,
 * batched by 100, with the hs_token; a refused transaction sent again with the
 * same txnId and the same bytes; ephemeral events; the ping endpoint and its
 * errors. The SIGKILL case is in appservice-restart.test.ts (a real process).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withServer, type Fixture } from '../support/fixture.js';
import { CLIENT_V3, type Session } from '../support/client.js';
import { deviceKeysFor, oneTimeKeys } from '../support/e2ee.js';
import { FakeAppService, type ReceivedTransaction } from '../support/fake-appservice.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';
import { assertMatchesSpecDefinition, expectError, expectSpec } from '../support/spec-schemas.js';

const PING = '/_matrix/client/v1/appservice/{appserviceId}/ping';

/** The bridge watches rooms with a `#bridged_…` alias; typing and receipts come in `ephemeral`. */
function bridgeRegistration(url: string | null, extra: Record<string, unknown> = {}) {
  return testRegistration('bridge', {
    url,
    receive_ephemeral: true,
    namespaces: {
      users: [{ regex: '@bridge_.*:localhost', exclusive: true }],
      aliases: [{ regex: '#bridged_.*:localhost', exclusive: false }],
      rooms: [],
    },
    ...extra,
  });
}

async function withAppService(
  test: (fixture: Fixture, service: FakeAppService) => Promise<void>,
  registrations: (url: string) => unknown[] = (url) => [bridgeRegistration(url)],
): Promise<void> {
  const service = new FakeAppService();
  const url = await service.start();
  try {
    const files = writeRegistrations(registrations(url));
    await withServer((fixture) => test(fixture, service), {
      config: { app_service_config_files: files },
    });
  } finally {
    await service.stop();
  }
}

async function bridgedRoom(fixture: Fixture, owner: Session, name: string): Promise<string> {
  return fixture.createRoom(owner, { room_alias_name: name });
}

function messagesOf(txn: ReceivedTransaction) {
  return txn.body.events.filter((event) => event.type === 'm.room.message');
}

describe('application service transactions', { timeout: 120_000 }, () => {
  it('delivers watched rooms’ events in stream order, at most 100 a transaction, with the hs_token', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await withAppService(async (fixture, service) => {
      // The first transaction waits until every message is sent: the rest queue up behind it.
      let first = true;
      service.answer = async () => {
        if (first) {
          first = false;
          await held;
        }
        return { status: 200 };
      };
      const alice = await fixture.register('alice');
      const watched = await bridgedRoom(fixture, alice, 'bridged_one');
      const other = await fixture.createRoom(alice);
      const sent: string[] = [];
      const unwatched: string[] = [];
      for (let i = 0; i < 130; i++) {
        sent.push(await fixture.send(alice, watched, `message ${i}`));
        if (i % 10 === 0) unwatched.push(await fixture.send(alice, other, `elsewhere ${i}`));
      }
      release();
      await service.waitFor(() => sent.every((id) => service.eventIds().includes(id)));

      const received = service.eventIds();
      const order = sent.map((id) => received.indexOf(id));
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
        'in the order they were sent',
      );
      assert.equal(new Set(received).size, received.length, 'each event once');
      for (const id of unwatched) assert.ok(!received.includes(id), 'nothing of the other room');

      const transactions = service.transactions;
      const sizes = transactions.map((txn) => txn.body.events.length);
      assert.ok(Math.max(...sizes) <= 100, `batches of at most 100: ${sizes.join(',')}`);
      assert.ok(sizes.includes(100), `the queued events go 100 at a time: ${sizes.join(',')}`);
      const numbers = transactions.map((txn) => Number(txn.txnId));
      assert.deepEqual(
        numbers,
        [...new Set(numbers)].sort((a, b) => a - b),
        'new, rising txnIds',
      );
      for (const txn of transactions) {
        assert.equal(txn.authorization, 'Bearer bridge-hs-token');
        assert.ok(Array.isArray(txn.body.ephemeral), 'receive_ephemeral: the stable field');
        assert.ok(Array.isArray(txn.body['de.sorunome.msc2409.to_device']));
        assert.equal(txn.body['de.sorunome.msc2409.ephemeral'], undefined);
      }
      const message = transactions.flatMap(messagesOf)[0]!;
      assertMatchesSpecDefinition('definitions/client_event.yaml', message);
      assert.equal(message.room_id, watched);
      assert.deepEqual(message.content, { msgtype: 'm.text', body: 'message 0' });
    });
  });

  it('sends a refused transaction again with the same txnId and the same body', async () => {
    await withAppService(async (fixture, service) => {
      let refusals = 0;
      service.answer = (request) => {
        const refuse = request.path.includes('/transactions/') && refusals < 2;
        if (refuse) refusals++;
        return { status: refuse ? 500 : 200 };
      };
      const alice = await fixture.register('alice');
      const room = await bridgedRoom(fixture, alice, 'bridged_retry');
      await service.waitFor(() => refusals === 2 && service.transactions.length >= 3, 20_000);
      const [firstTry, secondTry, thirdTry] = service.transactions;
      assert.equal(secondTry!.txnId, firstTry!.txnId);
      assert.equal(thirdTry!.txnId, firstTry!.txnId);
      assert.equal(secondTry!.raw, firstTry!.raw, 'byte for byte');
      assert.equal(thirdTry!.raw, firstTry!.raw, 'byte for byte');

      const later = await fixture.send(alice, room, 'after the outage');
      await service.waitFor(() => service.eventIds().includes(later));
      const carrying = service.transactions.find((txn) =>
        txn.body.events.some((event) => event.event_id === later),
      )!;
      assert.ok(Number(carrying.txnId) > Number(firstTry!.txnId), 'a new transaction');
      assert.ok(!firstTry!.body.events.some((event) => event.event_id === later));
    });
  });

  it('sends typing and public receipts of watched rooms as ephemeral events', async () => {
    await withAppService(async (fixture, service) => {
      const alice = await fixture.register('alice');
      const watched = await bridgedRoom(fixture, alice, 'bridged_eph');
      const other = await fixture.createRoom(alice);
      const eventId = await fixture.send(alice, watched, 'read me');
      const enc = encodeURIComponent;
      const typing = (roomId: string) =>
        fixture.api.put(
          `${CLIENT_V3}/rooms/${enc(roomId)}/typing/${enc(alice.user_id)}`,
          { typing: true, timeout: 30_000 },
          { token: alice.access_token },
        );
      assert.equal((await typing(other)).status, 200);
      assert.equal((await typing(watched)).status, 200);
      const receipt = (type: string) =>
        fixture.api.post(
          `${CLIENT_V3}/rooms/${enc(watched)}/receipt/${type}/${enc(eventId)}`,
          {},
          { token: alice.access_token },
        );
      assert.equal((await receipt('m.read.private')).status, 200);
      assert.equal((await receipt('m.read')).status, 200);

      const ephemeral = () =>
        service.transactions.flatMap((txn) => txn.body.ephemeral as Record<string, unknown>[]);
      await service.waitFor(() => ephemeral().some((event) => event.type === 'm.receipt'));
      const typings = ephemeral().filter((event) => event.type === 'm.typing');
      assert.deepEqual(typings, [
        { type: 'm.typing', room_id: watched, content: { user_ids: [alice.user_id] } },
      ]);
      const receipts = ephemeral().filter((event) => event.type === 'm.receipt');
      assert.equal(receipts.length, 1, 'the private receipt is not sent');
      const content = receipts[0]!.content as Record<
        string,
        Record<string, Record<string, unknown>>
      >;
      assert.equal(receipts[0]!.room_id, watched);
      assert.ok(content[eventId]?.['m.read']?.[alice.user_id], JSON.stringify(content));
      assert.equal(content[eventId]?.['m.read.private'], undefined);
    });
  });

  it('pings the service, and answers the spec’s errors', async () => {
    await withAppService(
      async (fixture, service) => {
        const ping = (id: string, token: string, body: unknown = {}) =>
          fixture.api.post(`/_matrix/client/v1/appservice/${id}/ping`, body, { token });
        const ok = await ping('bridge', 'bridge-as-token', { transaction_id: 'mautrix-go_1' });
        const answer = expectSpec(ok, 'POST', PING);
        assert.equal(typeof answer.duration_ms, 'number');
        const received = service.requests.find((r) => r.path === '/_matrix/app/v1/ping')!;
        assert.equal(received.method, 'POST');
        assert.equal(received.authorization, 'Bearer bridge-hs-token');
        assert.deepEqual(received.json, { transaction_id: 'mautrix-go_1' });

        const alice = await fixture.register('alice');
        expectError(await ping('bridge', alice.access_token), 403, 'M_FORBIDDEN');
        expectError(await ping('nourl', 'bridge-as-token'), 403, 'M_FORBIDDEN');
        expectError(await ping('nourl', 'nourl-as-token'), 400, 'M_URL_NOT_SET');
        expectError(
          await ping('bridge', 'bridge-as-token', { transaction_id: 7 }),
          400,
          'M_BAD_JSON',
        );

        service.answer = () => ({ status: 401, body: { errcode: 'M_UNKNOWN_TOKEN' } });
        const bad = await ping('bridge', 'bridge-as-token');
        expectError(bad, 502, 'M_BAD_STATUS');
        assert.equal(bad.body.status, 401);
        assert.deepEqual(JSON.parse(bad.body.body as string), { errcode: 'M_UNKNOWN_TOKEN' });

        expectError(await ping('dead', 'dead-as-token'), 502, 'M_CONNECTION_FAILED');
        // A private address outside app_service_ip_range_whitelist is never connected to.
        expectError(await ping('private', 'private-as-token'), 502, 'M_CONNECTION_FAILED');
      },
      (url) => [
        bridgeRegistration(url),
        testRegistration('nourl'),
        // Nothing listens on port 1.
        testRegistration('dead', { url: 'http://127.0.0.1:1' }),
        testRegistration('private', { url: 'http://10.255.255.1:8009' }),
      ],
    );
  });

  it('tells an MSC3202 service of device list changes and its users’ key counts', async () => {
    await withAppService(
      async (fixture, service) => {
        const registered = await fixture.api.post(
          `${CLIENT_V3}/register`,
          { type: 'm.login.application_service', username: 'bridge_crypto' },
          { token: 'bridge-as-token' },
        );
        assert.equal(registered.status, 200, JSON.stringify(registered.body));
        const puppet = registered.body as unknown as Session;
        const { identity, keys } = deviceKeysFor(puppet);
        const uploaded = await fixture.api.post(
          `${CLIENT_V3}/keys/upload`,
          {
            device_keys: keys,
            one_time_keys: oneTimeKeys(puppet, identity, 2),
            fallback_keys: {
              'signed_curve25519:FB01': oneTimeKeys(puppet, identity, 1, 'FB')[
                'signed_curve25519:FB0001'
              ]!,
            },
          },
          { token: puppet.access_token },
        );
        assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
        const alice = await fixture.register('alice');
        const roomId = await fixture.createRoom(alice, { preset: 'public_chat' });
        await fixture.join(puppet, roomId);
        // Alice's new device keys change her device list, which the puppet shares a room with.
        const aliceKeys = await fixture.api.post(
          `${CLIENT_V3}/keys/upload`,
          { device_keys: deviceKeysFor(alice).keys },
          { token: alice.access_token },
        );
        assert.equal(aliceKeys.status, 200);
        const field = (name: string) =>
          service.transactions.map((txn) => txn.body[name]).filter((value) => value !== undefined);
        await service.waitFor(
          () =>
            field('org.matrix.msc3202.device_lists').some((lists) =>
              (lists as { changed: string[] }).changed.includes(alice.user_id),
            ),
          15_000,
          'alice’s device list change',
        );
        await fixture.send(puppet, roomId, 'from the bridge');
        await service.waitFor(
          () => field('org.matrix.msc3202.device_one_time_keys_count').length > 0,
          15_000,
          'the key counts',
        );
        const counts = field('org.matrix.msc3202.device_one_time_keys_count').at(-1) as Record<
          string,
          Record<string, Record<string, number>>
        >;
        assert.equal(counts[puppet.user_id]?.[puppet.device_id]?.signed_curve25519, 2);
        assert.deepEqual(field('org.matrix.msc3202.device_one_time_key_counts').at(-1), counts);
        const fallback = field('org.matrix.msc3202.device_unused_fallback_key_types').at(
          -1,
        ) as Record<string, Record<string, string[]>>;
        assert.deepEqual(fallback[puppet.user_id]?.[puppet.device_id], ['signed_curve25519']);
        assert.equal(counts[alice.user_id], undefined, 'only the service’s own users');
      },
      (url) => [bridgeRegistration(url, { 'org.matrix.msc3202': true })],
    );
  });

  it('asks the service about an unknown user in its namespace before pushing the invite', async () => {
    await withAppService(async (fixture, service) => {
      const puppet = '@bridge_puppet:localhost';
      const userQuery = `/_matrix/app/v1/users/${encodeURIComponent(puppet)}`;
      service.answer = async (request) => {
        if (request.path !== userQuery) return { status: 200 };
        // The bridge makes its puppet on the spot, then says it exists.
        const made = await fixture.api.post(
          `${CLIENT_V3}/register`,
          { type: 'm.login.application_service', username: 'bridge_puppet', inhibit_login: true },
          { token: 'bridge-as-token' },
        );
        return { status: made.status === 200 ? 200 : 500 };
      };
      const alice = await fixture.register('alice');
      const roomId = await fixture.createRoom(alice, {});
      await fixture.invite(alice, roomId, puppet);
      await service.waitFor(
        () =>
          service.transactions.some((txn) =>
            txn.body.events.some((e) => e.type === 'm.room.member'),
          ),
        15_000,
        'the invite',
      );
      const queried = service.requests.findIndex((r) => r.path === userQuery);
      const pushed = service.requests.findIndex((r) =>
        r.path.startsWith('/_matrix/app/v1/transactions/'),
      );
      assert.ok(queried >= 0, 'the user was asked about');
      assert.ok(queried < pushed, 'before the transaction with the invite');
      assert.equal(service.requests[queried]!.authorization, 'Bearer bridge-hs-token');
      // Known now: a second invite elsewhere asks nothing.
      const other = await fixture.createRoom(alice, {});
      await fixture.invite(alice, other, puppet);
      await service.waitFor(
        () =>
          service.transactions.filter((txn) => txn.body.events.some((e) => e.room_id === other))
            .length > 0,
        15_000,
        'the second invite',
      );
      assert.equal(service.requests.filter((r) => r.path === userQuery).length, 1);
    });
  });

  it('asks the service about unknown aliases in its namespace, and for third-party protocols', async () => {
    await withAppService(
      async (fixture, service) => {
        service.answer = async (request) => {
          if (request.path === '/_matrix/app/v1/rooms/%23bridged_portal%3Alocalhost') {
            // The bridge makes the portal room on the spot, as its own user.
            const created = await fixture.api.post(
              `${CLIENT_V3}/createRoom`,
              { room_alias_name: 'bridged_portal' },
              { token: 'bridge-as-token' },
            );
            return { status: created.status === 200 ? 200 : 500 };
          }
          if (request.path === '/_matrix/app/v1/thirdparty/protocol/irc') {
            return {
              status: 200,
              body: {
                user_fields: ['network', 'nickname'],
                location_fields: ['network', 'channel'],
                icon: 'mxc://localhost/irc',
                field_types: {},
                instances: [
                  { desc: 'Libera', network_id: 'libera', fields: {}, icon: 'mxc://localhost/x' },
                ],
              },
            };
          }
          return { status: 404, body: { errcode: 'M_NOT_FOUND' } };
        };
        const alice = await fixture.register('alice');
        const resolve = (alias: string) =>
          fixture.api.get(`${CLIENT_V3}/directory/room/${encodeURIComponent(alias)}`, {
            token: alice.access_token,
          });
        const found = expectSpec(
          await resolve('#bridged_portal:localhost'),
          'GET',
          '/_matrix/client/v3/directory/room/{roomAlias}',
        );
        assert.match(found.room_id as string, /^!/);
        const query = service.requests.find((r) => r.path.startsWith('/_matrix/app/v1/rooms/'))!;
        assert.equal(query.authorization, 'Bearer bridge-hs-token');

        expectError(await resolve('#bridged_none:localhost'), 404, 'M_NOT_FOUND');
        const asked = service.requests.filter((r) => r.path.startsWith('/_matrix/app/v1/rooms/'));
        assert.equal(asked.length, 2, 'asked again for the unknown one');
        expectError(await resolve('#elsewhere:localhost'), 404, 'M_NOT_FOUND');
        assert.equal(
          service.requests.filter((r) => r.path.startsWith('/_matrix/app/v1/rooms/')).length,
          2,
          'not asked outside its namespace',
        );

        const protocols = expectSpec(
          await fixture.api.get(`${CLIENT_V3}/thirdparty/protocols`, { token: alice.access_token }),
          'GET',
          '/_matrix/client/v3/thirdparty/protocols',
        );
        const irc = protocols.irc as { instances: Record<string, unknown>[] };
        assert.equal(irc.instances[0]!.instance_id, 'bridge|libera');
      },
      (url) => [bridgeRegistration(url, { protocols: ['irc'] })],
    );
  });
});
