/**
 * Outgoing device list updates between two real Wefts: a.test's transactions
 * to b.test pass through a recording proxy in the test, so each EDU is seen as
 * sent, and b.test still receives and acts on it.
 *
 * One m.device_list_update per changed device (keys uploaded on a new device,
 * renamed, deleted, several deleted at once), checked against the spec's
 * schema: its keys with their signatures, `deleted` for a deleted device, no
 * display name (ours stay on this server); `stream_id` increasing, `prev_id`
 * naming the update sent before (empty for the first one, so b.test resyncs),
 * also across a restart of a.test; cross-signing keys go as
 * m.signing_key_update and leave the chain alone; `/user/devices` answers the
 * stream_id of the latest update.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { CLIENT_V3, type Session, type SyncBody } from '../support/fixture.js';
import { assertMatchesSpecDefinition } from '../support/spec-schemas.js';
import { crossSigningKey, deviceKeysFor, Ed25519Key } from '../support/e2ee.js';
import {
  federatingPair,
  freePort,
  syncUntil,
  type FederatingSide,
  closeFederatingPair,
} from '../support/federation-pair.js';

type Json = Record<string, unknown>;

const FED_V1 = '/_matrix/federation/v1';
const EDU_SCHEMA = '../server-server/definitions/event-schemas/m.device_list_update.yaml';

/** Forwards every request to b.test's port; records the EDUs of each /send. */
class RecordingProxy {
  readonly edus: { edu_type: string; content: Json }[] = [];
  targetPort = 0;
  private server?: Server;

  async open(port: number): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        void this.forward(request.method ?? 'GET', request.url ?? '/', request.headers, body).then(
          ({ status, text }) => {
            response.writeHead(status, { 'content-type': 'application/json' });
            response.end(text);
          },
          () => {
            response.writeHead(502);
            response.end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The device list updates (content) sent so far. */
  deviceListUpdates(): Json[] {
    return this.edus.filter((e) => e.edu_type === 'm.device_list_update').map((e) => e.content);
  }

  private async forward(
    method: string,
    url: string,
    headers: Record<string, string | string[] | undefined>,
    body: Buffer,
  ): Promise<{ status: number; text: string }> {
    const answer = await fetch(`http://127.0.0.1:${this.targetPort}${url}`, {
      method,
      headers: Object.fromEntries(
        ['authorization', 'content-type']
          .filter((name) => typeof headers[name] === 'string')
          .map((name) => [name, headers[name] as string]),
      ),
      ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
    });
    const text = await answer.text();
    if (method === 'PUT' && url.startsWith(`${FED_V1}/send/`) && answer.ok) {
      const sent = JSON.parse(body.toString('utf8')) as { edus?: RecordingProxy['edus'] };
      this.edus.push(...(sent.edus ?? []));
    }
    return { status: answer.status, text };
  }
}

async function until<T>(what: string, find: () => T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('federation device list updates', { timeout: 180_000 }, () => {
  const proxy = new RecordingProxy();
  let a: FederatingSide;
  let b: FederatingSide;
  let alice: Session;
  let bob: Session;
  /** Bob's sync position: each step's device_lists.changed is read after it. */
  let since: string;
  /** The updates checked so far (each step waits for the ones after). */
  let seen = 0;

  const aliceDevices = async (): Promise<Json> => {
    const res = await b.server.weft.federation.request({
      destination: 'a.test',
      method: 'GET',
      path: `${FED_V1}/user/devices/${encodeURIComponent(alice.user_id)}`,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as Json;
  };
  const bobsKeysOfAlice = async (): Promise<string[]> => {
    const res = await b.api.post(
      `${CLIENT_V3}/keys/query`,
      { device_keys: { [alice.user_id]: [] } },
      { token: bob.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const keys = res.body.device_keys as Record<string, Json>;
    return Object.keys(keys[alice.user_id] ?? {}).sort();
  };
  /** The next `count` updates, each checked against the spec's schema. */
  const nextUpdates = async (count: number): Promise<Json[]> => {
    const updates = await until(`${count} device list update(s)`, () => {
      const all = proxy.deviceListUpdates();
      return all.length >= seen + count ? all.slice(seen, seen + count) : undefined;
    });
    seen += count;
    for (const content of updates) {
      assertMatchesSpecDefinition(EDU_SCHEMA, { edu_type: 'm.device_list_update', content });
      assert.equal(content.user_id, alice.user_id);
      assert.equal('device_display_name' in content, false, 'names stay on a.test');
    }
    return updates;
  };
  /** Bob's client hears that alice's devices changed (b.test acted on the EDU). */
  const bobSeesAliceChanged = async (): Promise<void> => {
    const changed = (s: SyncBody) =>
      ((s as { device_lists?: { changed?: string[] } }).device_lists?.changed ?? []).includes(
        alice.user_id,
      );
    since = (await syncUntil(b, bob, changed, { since })).next_batch;
  };
  const uploadKeys = async (session: Session): Promise<Json> => {
    const keys = deviceKeysFor(session).keys as Json;
    const res = await a.api.post(
      `${CLIENT_V3}/keys/upload`,
      { device_keys: keys },
      { token: session.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return keys;
  };
  const login = async (): Promise<Session> => (await a.api.login('alice')).body;

  before(async () => {
    const proxyPort = await freePort();
    // a.test reaches b.test through the proxy (b.test never sends to itself).
    [a, b] = await federatingPair({ 'b.test': `http://127.0.0.1:${proxyPort}` });
    proxy.targetPort = b.server.config.port;
    await proxy.open(proxyPort);
    await a.server.start();
    await b.server.start();
    alice = await a.api.register('alice');
    bob = await b.api.register('bob');
    // Keys before b.test shares a room with alice: no update goes anywhere.
    await uploadKeys(alice);
    const roomId = await a.helpers.createRoom(alice, { preset: 'public_chat' });
    const join = await b.api.post(
      `${CLIENT_V3}/join/${encodeURIComponent(roomId)}?server_name=a.test`,
      {},
      { token: bob.access_token },
    );
    assert.equal(join.status, 200, JSON.stringify(join.body));
    assert.deepEqual(await bobsKeysOfAlice(), [alice.device_id]);
    since = (await b.helpers.sync(bob)).next_batch;
  });

  after(async () => {
    await closeFederatingPair([a, b]);
    await proxy.close();
  });

  let laptop: Session;
  let laptopKeys: Json;
  /** The stream_id of the last update: the next one names it as its prev_id. */
  let last = 0;

  it('sends the keys of a new device, first in its chain (prev_id empty: b.test resyncs)', async () => {
    laptop = await login();
    laptopKeys = await uploadKeys(laptop);
    const [update] = await nextUpdates(1);
    assert.equal(update!.device_id, laptop.device_id);
    assert.deepEqual(update!.prev_id, []);
    assert.equal(update!.deleted, undefined);
    const keys = update!.keys as Json;
    assert.equal(keys.device_id, laptop.device_id);
    assert.deepEqual(keys.keys, laptopKeys.keys);
    assert.deepEqual(keys.signatures, laptopKeys.signatures);
    assert.ok(Number.isSafeInteger(update!.stream_id));
    last = update!.stream_id as number;
    await bobSeesAliceChanged();
    assert.deepEqual(await bobsKeysOfAlice(), [alice.device_id, laptop.device_id].sort());
    // /user/devices: the version the updates chain from.
    assert.equal((await aliceDevices()).stream_id, last);
  });

  it('sends a renamed device, chained to the update before, without its name', async () => {
    const res = await a.api.put(
      `${CLIENT_V3}/devices/${encodeURIComponent(alice.device_id)}`,
      { display_name: 'Work phone' },
      { token: alice.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [update] = await nextUpdates(1);
    assert.equal(update!.device_id, alice.device_id);
    assert.deepEqual(update!.prev_id, [last]);
    assert.ok((update!.stream_id as number) > last);
    assert.equal((update!.keys as Json).device_id, alice.device_id);
    last = update!.stream_id as number;
    await bobSeesAliceChanged();
    assert.equal((await aliceDevices()).stream_id, last);
  });

  it('signs a device with the self-signing key: the device is sent with the new signature', async () => {
    const master = new Ed25519Key();
    const selfSigning = new Ed25519Key();
    const upload = await a.api.post(
      `${CLIENT_V3}/keys/device_signing/upload`,
      {
        master_key: crossSigningKey(alice.user_id, 'master', master),
        self_signing_key: crossSigningKey(alice.user_id, 'self_signing', selfSigning, master),
      },
      { token: alice.access_token },
    );
    assert.equal(upload.status, 200, JSON.stringify(upload.body));
    const signingKeyUpdate = await until('the signing key update', () =>
      proxy.edus.find((e) => e.edu_type === 'm.signing_key_update'),
    );
    assert.equal(signingKeyUpdate.content.user_id, alice.user_id);
    // The cross-signing keys are no device: no m.device_list_update for them.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(proxy.deviceListUpdates().length, seen);

    const signed = selfSigning.sign(laptopKeys, alice.user_id);
    const selfSigningKeyId = `ed25519:${selfSigning.publicKey}`;
    const signature = (signed.signatures as Record<string, Json>)[alice.user_id]![selfSigningKeyId];
    const res = await a.api.post(
      `${CLIENT_V3}/keys/signatures/upload`,
      { [alice.user_id]: { [laptop.device_id]: signed } },
      { token: alice.access_token },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.failures, {});
    const [update] = await nextUpdates(1);
    assert.equal(update!.device_id, laptop.device_id);
    // The chain skips the cross-signing change's position: it names the last device update.
    assert.deepEqual(update!.prev_id, [last]);
    const signatures = (update!.keys as { signatures: Record<string, Json> }).signatures;
    assert.equal(signatures[alice.user_id]![selfSigningKeyId], signature);
    assert.equal(
      signatures[alice.user_id]![`ed25519:${laptop.device_id}`],
      (laptopKeys.signatures as Record<string, Json>)[alice.user_id]![
        `ed25519:${laptop.device_id}`
      ],
    );
    last = update!.stream_id as number;
  });

  it('says a deleted device is deleted, without keys', async () => {
    const res = await a.api.withPasswordAuth(
      'DELETE',
      `${CLIENT_V3}/devices/${encodeURIComponent(laptop.device_id)}`,
      {},
      { token: alice.access_token, user: 'alice' },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [update] = await nextUpdates(1);
    assert.equal(update!.device_id, laptop.device_id);
    assert.equal(update!.deleted, true);
    assert.equal(update!.keys, undefined);
    assert.deepEqual(update!.prev_id, [last]);
    assert.ok((update!.stream_id as number) > last);
    last = update!.stream_id as number;
    await bobSeesAliceChanged();
    assert.deepEqual(await bobsKeysOfAlice(), [alice.device_id]);
    assert.equal((await aliceDevices()).stream_id, last);
  });

  it('sends one update per device when several change at once, each naming the one before', async () => {
    const tablet = await login();
    const desktop = await login();
    await uploadKeys(tablet);
    await uploadKeys(desktop);
    const added = await nextUpdates(2);
    assert.deepEqual(
      added.map((u) => u.device_id),
      [tablet.device_id, desktop.device_id],
    );
    assert.deepEqual(added[0]!.prev_id, [last]);
    assert.deepEqual(added[1]!.prev_id, [added[0]!.stream_id]);
    last = added[1]!.stream_id as number;

    const res = await a.api.withPasswordAuth(
      'POST',
      `${CLIENT_V3}/delete_devices`,
      { devices: [tablet.device_id, desktop.device_id] },
      { token: alice.access_token, user: 'alice' },
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const deleted = await nextUpdates(2);
    assert.deepEqual(
      deleted.map((u) => u.device_id).sort(),
      [tablet.device_id, desktop.device_id].sort(),
    );
    assert.ok(deleted.every((u) => u.deleted === true));
    assert.deepEqual(deleted[0]!.prev_id, [last]);
    assert.deepEqual(deleted[1]!.prev_id, [deleted[0]!.stream_id]);
    assert.ok((deleted[1]!.stream_id as number) > (deleted[0]!.stream_id as number));
    last = deleted[1]!.stream_id as number;
    await bobSeesAliceChanged();
    assert.deepEqual(await bobsKeysOfAlice(), [alice.device_id]);
  });

  it('keeps the chain across a restart of a.test', async () => {
    await a.server.restart();
    const phone = await login();
    await uploadKeys(phone);
    const [update] = await nextUpdates(1);
    assert.equal(update!.device_id, phone.device_id);
    assert.deepEqual(update!.prev_id, [last]);
    assert.ok((update!.stream_id as number) > last);
    await bobSeesAliceChanged();
    assert.deepEqual(await bobsKeysOfAlice(), [alice.device_id, phone.device_id].sort());
    assert.equal((await aliceDevices()).stream_id, update!.stream_id);
  });
});
