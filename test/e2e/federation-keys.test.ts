/**
 * Federation keys end to end: our key document and the version endpoint
 * against the spec; two Weft servers (one the other's notary) and origin
 * servers played by node:http, all over real HTTP through `federation.hosts`;
 * and X-Matrix request authentication on a federation route (a Fastify app
 * built from the real router, key service, storage and federation client, since
 * the full server has no signed route of its own in this area).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { SigningKey } from '../../src/crypto/server-keys.js';
import type { JsonObject } from '../../src/events/pdu.js';
import { signingKeyFromSeed, signJson, verifyJsonSignature } from '../../src/events/signing.js';
import { buildFederationHttp } from '../../src/federation/federation-http.js';
import { InboundAuth } from '../../src/federation/inbound-auth.js';
import { KeyService } from '../../src/federation/key-service.js';
import { xMatrixAuthorization } from '../../src/federation/request-auth.js';
import { createHttpServer } from '../../src/http/server.js';
import { Router } from '../../src/http/router.js';
import { SessionService } from '../../src/auth/sessions.js';
import type { Storage } from '../../src/storage/storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import { type TrustedKeyServer } from '../../src/config/config.js';
import {
  Api,
  InProcessServer,
  assertResponseMatchesSpec,
  expectError,
  testConfig,
} from '../support/fixture.js';
import { queryDatabase } from '../support/server.js';

const OLD_PUBLIC = signingKeyFromSeed(Buffer.alloc(32, 9).toString('base64'), 'x').publicKeyBase64;
const HOUR = 60 * 60 * 1000;

/** A server played by node:http that serves its key document and counts the requests. */
class KeyOrigin {
  requests = 0;
  private server: Server | undefined;

  constructor(
    readonly serverName: string,
    readonly key: SigningKey,
    private readonly behaviour: { delayMs?: number; status?: number } = {},
  ) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      this.requests += 1;
      const answer = () => {
        if (request.url !== '/_matrix/key/v2/server' || this.behaviour.status) {
          response.writeHead(this.behaviour.status ?? 404).end('{}');
          return;
        }
        const document = signJson(
          {
            server_name: this.serverName,
            valid_until_ts: Date.now() + HOUR,
            verify_keys: { [this.key.keyId]: { key: this.key.publicKeyBase64 } },
            old_verify_keys: {},
          },
          this.serverName,
          this.key,
        );
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(document));
      };
      setTimeout(answer, this.behaviour.delayMs ?? 0);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  get target(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

const seedKey = (n: number, id: string) =>
  signingKeyFromSeed(Buffer.alloc(32, n).toString('base64'), id);

const origin = new KeyOrigin('origin.test', seedKey(1, 'ed25519:o1'));
const slow = new KeyOrigin('slow.test', seedKey(2, 'ed25519:s1'), { delayMs: 200 });
const broken = new KeyOrigin('broken.test', seedKey(3, 'ed25519:b1'), { status: 500 });
const origins = [origin, slow, broken];

/** A port nothing listens on (a dead server). */
async function closedPort(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function sigValid(document: JsonObject, serverName: string, keyId: string, key: string): boolean {
  return verifyJsonSignature(document, serverName, keyId, key);
}

describe('federation keys', { timeout: 60_000 }, () => {
  let serverB: InProcessServer;
  let serverA: InProcessServer;
  let dead: string;
  const apiA = new Api(() => serverA.url);

  before(async () => {
    for (const server of origins) await server.start();
    dead = await closedPort();
    serverB = new InProcessServer({ server_name: 'b.test' });
    await serverB.start();
    serverA = new InProcessServer({
      server_name: 'a.test',
      federation: {
        hosts: {
          'b.test': `http://127.0.0.1:${new URL(serverB.url).port}`,
          'origin.test': origin.target,
          'slow.test': slow.target,
          'broken.test': broken.target,
          'dead.test': dead,
        },
        old_signing_keys: [
          { key_id: 'ed25519:old', key: OLD_PUBLIC, expired_ts: 1_600_000_000_000 },
        ],
      },
    });
    await serverA.start();
  });

  after(async () => {
    await serverA?.close();
    await serverB?.close();
    for (const server of origins) await server.close();
  });

  it('publishes its keys, signed, as the spec shapes them', async () => {
    const before = Date.now();
    const response = await apiA.get('/_matrix/key/v2/server');
    assert.equal(response.status, 200);
    assertResponseMatchesSpec('GET', '/_matrix/key/v2/server', 200, response.body);
    const document = response.body as JsonObject;
    const { signingKey } = serverA.weft.keys;
    assert.equal(document.server_name, 'a.test');
    assert.deepEqual(document.verify_keys, {
      [signingKey.keyId]: { key: signingKey.publicKeyBase64 },
    });
    assert.deepEqual(document.old_verify_keys, {
      'ed25519:old': { key: OLD_PUBLIC, expired_ts: 1_600_000_000_000 },
    });
    // A day (Synapse's key_refresh_interval) from when the document was made.
    const validUntil = document.valid_until_ts as number;
    assert.ok(validUntil >= before + 23 * HOUR && validUntil <= Date.now() + 24 * HOUR);
    assert.ok(sigValid(document, 'a.test', signingKey.keyId, signingKey.publicKeyBase64));

    // The deprecated key ID form answers the same document.
    const byKeyId = await apiA.get(
      `/_matrix/key/v2/server/${encodeURIComponent(signingKey.keyId)}`,
    );
    assert.deepEqual(byKeyId.body, document);
    expectError(await apiA.post('/_matrix/key/v2/server', {}), 405, 'M_UNRECOGNIZED');
  });

  it('answers /_matrix/federation/v1/version unsigned', async () => {
    const response = await apiA.get('/_matrix/federation/v1/version');
    assert.equal(response.status, 200);
    assertResponseMatchesSpec('GET', '/_matrix/federation/v1/version', 200, response.body);
    const server = (response.body as { server: { name: string; version: string } }).server;
    assert.equal(server.name, 'Weft');
    assert.match(server.version, /^\d+\.\d+\.\d+/);
    expectError(await apiA.post('/_matrix/federation/v1/version', {}), 405, 'M_UNRECOGNIZED');
  });

  it("serves as a notary another Weft's keys, fetched from it, with both signatures", async () => {
    const response = await apiA.post('/_matrix/key/v2/query', {
      server_keys: { 'b.test': {} },
    });
    assert.equal(response.status, 200);
    assertResponseMatchesSpec('POST', '/_matrix/key/v2/query', 200, response.body);
    const [document, ...more] = (response.body as { server_keys: JsonObject[] }).server_keys;
    assert.equal(more.length, 0);
    const b = serverB.weft.keys.signingKey;
    const a = serverA.weft.keys.signingKey;
    assert.equal(document!.server_name, 'b.test');
    assert.deepEqual(document!.verify_keys, { [b.keyId]: { key: b.publicKeyBase64 } });
    assert.ok(sigValid(document!, 'b.test', b.keyId, b.publicKeyBase64));
    assert.ok(sigValid(document!, 'a.test', a.keyId, a.publicKeyBase64));

    const rows = (await queryDatabase(
      serverA.config,
      "SELECT key_id, public_key FROM server_keys WHERE server_name = 'b.test'",
    )) as { key_id: string; public_key: string }[];
    assert.deepEqual(rows, [{ key_id: b.keyId, public_key: b.publicKeyBase64 }]);

    // The GET form, by key ID in the POST form: the stored response, signed again.
    const byGet = await apiA.get('/_matrix/key/v2/query/b.test');
    assertResponseMatchesSpec('GET', '/_matrix/key/v2/query/{serverName}', 200, byGet.body);
    assert.deepEqual(byGet.body, response.body);
    const byKey = await apiA.post('/_matrix/key/v2/query', {
      server_keys: { 'b.test': { [b.keyId]: {} } },
    });
    assert.deepEqual(byKey.body, response.body);
  });

  it('answers for itself with its own document, and nothing for servers it cannot reach', async () => {
    const own = await apiA.post('/_matrix/key/v2/query', { server_keys: { 'a.test': {} } });
    const ownDocument = (await apiA.get('/_matrix/key/v2/server')).body;
    assert.deepEqual((own.body as { server_keys: unknown[] }).server_keys, [ownDocument]);

    const none = await apiA.post('/_matrix/key/v2/query', {
      server_keys: { 'dead.test': {}, 'unknown.test': {}, 'not a name!': {} },
    });
    assert.equal(none.status, 200);
    assertResponseMatchesSpec('POST', '/_matrix/key/v2/query', 200, none.body);
    assert.deepEqual(none.body, { server_keys: [] });
    assert.deepEqual((await apiA.post('/_matrix/key/v2/query', { server_keys: {} })).body, {
      server_keys: [],
    });
  });

  it('refuses malformed queries with Matrix errors', async () => {
    expectError(await apiA.post('/_matrix/key/v2/query', {}), 400, 'M_MISSING_PARAM');
    expectError(await apiA.post('/_matrix/key/v2/query', { server_keys: [] }), 400, 'M_BAD_JSON');
    expectError(
      await apiA.post('/_matrix/key/v2/query', { server_keys: { 'b.test': { k: 1 } } }),
      400,
      'M_BAD_JSON',
    );
    expectError(
      await apiA.get('/_matrix/key/v2/query/b.test?minimum_valid_until_ts=soon'),
      400,
      'M_INVALID_PARAM',
    );
  });

  it('shares one fetch between concurrent queries, and remembers failures', async () => {
    const query = () => apiA.post('/_matrix/key/v2/query', { server_keys: { 'slow.test': {} } });
    const answers = await Promise.all([query(), query(), query(), query()]);
    assert.equal(slow.requests, 1);
    for (const answer of answers) {
      const [document] = (answer.body as { server_keys: JsonObject[] }).server_keys;
      assert.equal(document!.server_name, 'slow.test');
    }

    const brokenQuery = { server_keys: { 'broken.test': {} } };
    assert.deepEqual((await apiA.post('/_matrix/key/v2/query', brokenQuery)).body, {
      server_keys: [],
    });
    assert.deepEqual((await apiA.post('/_matrix/key/v2/query', brokenQuery)).body, {
      server_keys: [],
    });
    assert.equal(broken.requests, 1);
  });

  it('serves stored responses while fresh, refetches when asked for more, keeps them when the server is gone', async () => {
    const first = await apiA.post('/_matrix/key/v2/query', { server_keys: { 'origin.test': {} } });
    const [document] = (first.body as { server_keys: JsonObject[] }).server_keys;
    assert.equal(document!.server_name, 'origin.test');
    const fetched = origin.requests;
    // Fresh enough: served from storage without asking origin.test again.
    await apiA.post('/_matrix/key/v2/query', { server_keys: { 'origin.test': {} } });
    assert.equal(origin.requests, fetched);
    // Asked for longer than it is valid: fetched again.
    const later = Date.now() + 2 * HOUR;
    const refreshed = await apiA.get(
      `/_matrix/key/v2/query/origin.test?minimum_valid_until_ts=${later}`,
    );
    assert.equal(origin.requests, fetched + 1);
    assert.equal((refreshed.body as { server_keys: unknown[] }).server_keys.length, 1);
    // Gone: its last response is still served (old signatures can still be checked).
    await origin.close();
    const gone = await apiA.get(
      `/_matrix/key/v2/query/origin.test?minimum_valid_until_ts=${later + HOUR}`,
    );
    const [last] = (gone.body as { server_keys: JsonObject[] }).server_keys;
    assert.equal(last!.server_name, 'origin.test');
  });
});

/**
 * A Fastify app made of the real parts a federation route uses: router,
 * inbound authentication, key service, SQLite storage, federation client.
 */
class SignedRouteApp {
  readonly key = seedKey(20, 'ed25519:m1');
  private app: FastifyInstance | undefined;
  private storage: Storage | undefined;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'weft-fed-auth-'));
  url = '';

  constructor(
    readonly serverName: string,
    private readonly hosts: Record<string, string>,
    private readonly trustedKeyServers: TrustedKeyServer[] = [],
  ) {}

  async start(): Promise<void> {
    const storage = (this.storage = await openSqliteStorage(path.join(this.dir, 'weft.db')));
    const config = testConfig(
      { server_name: this.serverName, federation: { hosts: this.hosts } },
      this.dir,
    );
    const keys = new KeyService({
      serverName: this.serverName,
      keys: { signingKey: this.key },
      store: storage.serverKeys,
      sender: buildFederationHttp(config.federation, this.serverName, this.key),
      trustedKeyServers: this.trustedKeyServers,
      validityPeriodMs: config.federation.key_validity_period_ms,
      oldSigningKeys: [],
      logger: pino({ level: 'silent' }),
    });
    const app = (this.app = createHttpServer({
      logger: pino({ level: 'silent' }),
      trustProxy: false,
      maxBodyBytes: 1024 * 1024,
      logRequests: false,
    }));
    const router = new Router(app, new SessionService(storage));
    router.useFederationAuth(new InboundAuth(this.serverName, keys));
    router.federation('PUT', '/_matrix/federation/v1/echo/:id', async (request, from) => ({
      origin: from,
      also: request.origin,
      body: request.body as JsonObject,
    }));
    router.federation('GET', '/_matrix/federation/v1/echo/:id', async (_request, from) => ({
      origin: from,
    }));
    router.finish();
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    this.url = address;
  }

  async close(): Promise<void> {
    await this.app?.close();
    await this.storage?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('X-Matrix request authentication', { timeout: 60_000 }, () => {
  let notary: InProcessServer;
  let app: SignedRouteApp;
  let strict: SignedRouteApp;
  const api = new Api(() => app.url);
  // Servers of their own: the describe above counts its origins' requests.
  const origin = new KeyOrigin('origin.test', seedKey(1, 'ed25519:o1'));
  // Reachable by the notary only: the app must ask it for this one's keys.
  const hidden = new KeyOrigin('hidden.test', seedKey(4, 'ed25519:h1'));

  before(async () => {
    await origin.start();
    await hidden.start();
    notary = new InProcessServer({
      server_name: 'notary.test',
      federation: { hosts: { 'hidden.test': hidden.target } },
    });
    await notary.start();
    const notaryTarget = `http://127.0.0.1:${new URL(notary.url).port}`;
    const hosts = {
      'origin.test': origin.target,
      'notary.test': notaryTarget,
      'hidden.test': await closedPort(),
    };
    const { keyId, publicKeyBase64 } = notary.weft.keys.signingKey;
    app = new SignedRouteApp('me.test', hosts, [
      { server_name: 'notary.test', verify_keys: { [keyId]: publicKeyBase64 } },
    ]);
    await app.start();
    // The same, but expecting another key of the notary: its answers do not count.
    strict = new SignedRouteApp('me.test', hosts, [
      { server_name: 'notary.test', verify_keys: { [keyId]: OLD_PUBLIC } },
    ]);
    await strict.start();
  });

  after(async () => {
    await app?.close();
    await strict?.close();
    await notary?.close();
    await origin.close();
    await hidden.close();
  });

  const PATH = '/_matrix/federation/v1/echo/1?x=a%20b';
  const BODY = { hello: 'world', n: 1 };

  function signed(
    from: KeyOrigin,
    overrides: { destination?: string; path?: string; key?: SigningKey; method?: string } = {},
  ) {
    return xMatrixAuthorization(
      {
        method: overrides.method ?? 'PUT',
        uri: overrides.path ?? PATH,
        origin: from.serverName,
        destination: overrides.destination ?? 'me.test',
        content: overrides.method === 'GET' ? undefined : BODY,
      },
      overrides.key ?? from.key,
    );
  }

  it('refuses an unsigned request and a bad signature, and takes a good one', async () => {
    expectError(await api.put(PATH, BODY), 401, 'M_UNAUTHORIZED');
    const wrongKey = signed(origin, { key: seedKey(30, origin.key.keyId) });
    expectError(
      await api.put(PATH, BODY, { headers: { authorization: wrongKey } }),
      401,
      'M_UNAUTHORIZED',
    );
    const fetched = origin.requests;
    const good = await api.put(PATH, BODY, { headers: { authorization: signed(origin) } });
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.deepEqual(good.body, { origin: 'origin.test', also: 'origin.test', body: BODY });
    // The key was fetched once (by the refused request) and is stored since.
    assert.ok(origin.requests <= fetched + 1);
    const again = origin.requests;
    const get = signed(origin, { method: 'GET', path: '/_matrix/federation/v1/echo/2' });
    const answer = await api.get('/_matrix/federation/v1/echo/2', {
      headers: { authorization: get },
    });
    assert.deepEqual(answer.body, { origin: 'origin.test' });
    assert.equal(origin.requests, again);
    // A federation path answers other methods 405, before any signature check.
    expectError(await api.post(PATH, BODY), 405, 'M_UNRECOGNIZED');
  });

  it('refuses a request for another destination, a changed body or path', async () => {
    const elsewhere = signed(origin, { destination: 'else.test' });
    const refused = await api.put(PATH, BODY, { headers: { authorization: elsewhere } });
    expectError(refused, 401, 'M_UNAUTHORIZED');
    assert.match((refused.body as { error: string }).error, /else\.test/);
    const header = { authorization: signed(origin) };
    expectError(await api.put(PATH, { ...BODY, n: 2 }, { headers: header }), 401, 'M_UNAUTHORIZED');
    expectError(
      await api.put('/_matrix/federation/v1/echo/1?x=other', BODY, { headers: header }),
      401,
      'M_UNAUTHORIZED',
    );
  });

  it('takes any valid one of several X-Matrix headers', async () => {
    const bad = signed(origin, { key: seedKey(31, origin.key.keyId) });
    assert.equal(await rawPut(app.url, PATH, [bad, signed(origin)], BODY), 200);
    assert.equal(await rawPut(app.url, PATH, [bad, bad], BODY), 401);
  });

  it("gets a key through the notary when the origin cannot be reached, checking the notary's signature", async () => {
    const header = { authorization: signed(hidden) };
    const response = await api.put(PATH, BODY, { headers: header });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal((response.body as { origin: string }).origin, 'hidden.test');
    const refused = await new Api(strict.url).put(PATH, BODY, { headers: header });
    expectError(refused, 401, 'M_UNAUTHORIZED');
  });
});

/** A PUT with several Authorization headers, each its own line (fetch would join them). */
async function rawPut(base: string, target: string, authorization: string[], body: unknown) {
  const url = new URL(base);
  const payload = JSON.stringify(body);
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'PUT',
        path: target,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setHeader('authorization', authorization);
    req.on('error', reject);
    req.end(payload);
  });
}
