/**
 * The outbound federation client against a real HTTPS server in this test
 * (its certificate from a CA the test makes with openssl), and Weft's
 * federation TLS listener.
 *
 * The client is built from its parts where the test must answer DNS itself
 * (`peer.test` → 127.0.0.1) or serve the well-known on a port other than 443;
 * Weft's own client (from its config) is used for the rest.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { signingKeyFromSeed, verifyJsonSignature } from '../../src/events/signing.js';
import { buildFederationHttp, FederationHttp } from '../../src/federation/federation-http.js';
import { OutboundConnections } from '../../src/federation/outbound-connection.js';
import { FederationUnreachable } from '../../src/federation/outbound.js';
import { parseXMatrix, requestSigningJson } from '../../src/federation/request-auth.js';
import { ServerResolver } from '../../src/federation/resolve-server.js';
import { WellKnownLookup } from '../../src/federation/well-known.js';
import { AddressPolicy } from '../../src/net/address-rules.js';
import type { SigningKey } from '../../src/crypto/server-keys.js';
import { withServer } from '../support/fixture.js';
import { issueCert, makeTestCa, type TestCa } from '../support/test-ca.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** The fake peer: records every request; a few paths behave badly on purpose. */
class Peer {
  readonly received: Received[] = [];
  /** Answers by `<Host header's host><path>` (`peer.test/.well-known/matrix/server`), before the built-in ones. */
  readonly handlers = new Map<string, (response: ServerResponse) => void>();
  server!: Server;
  port = 0;

  async start(certPath: string, keyPath: string): Promise<void> {
    this.server = createServer(
      { cert: readFileSync(certPath), key: readFileSync(keyPath) },
      (request, response) => void this.answer(request, response),
    );
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  requestsTo(urlPath: string): Received[] {
    return this.received.filter((r) => r.url === urlPath);
  }

  private async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    const received = { method: request.method!, url: request.url!, headers: request.headers, body };
    this.received.push(received);
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
      response
        .writeHead(status, { 'content-type': 'application/json', ...headers })
        .end(JSON.stringify(value));
    const host = (request.headers.host ?? '').replace(/:\d+$/, '');
    const handler = this.handlers.get(`${host}${request.url}`);
    if (handler) {
      handler(response);
      return;
    }
    switch (request.url) {
      case '/.well-known/matrix/server':
        response.writeHead(404).end();
        return;
      case '/_matrix/federation/v1/hang':
        return; // never answered
      case '/_matrix/federation/v1/big':
        json(200, { padding: 'x'.repeat(5000) });
        return;
      case '/_matrix/federation/v1/missing':
        json(404, { errcode: 'M_NOT_FOUND', error: 'No such thing' });
        return;
      case '/_matrix/federation/v1/text':
        response.writeHead(200, { 'content-type': 'text/plain' }).end('not json');
        return;
      default:
        json(200, { path: request.url, host: request.headers.host });
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const ORIGIN = 'origin.test';
/** The names the test's DNS answers (all on the peer, all in its certificate). */
const DNS: Record<string, string> = Object.fromEntries(
  ['peer.test', 'delegated.test', 'redirecting.test', 'plain.test', 'loop.test'].map((name) => [
    name,
    '127.0.0.1',
  ]),
);

function newSigningKey(): SigningKey {
  return signingKeyFromSeed(randomBytes(32).toString('base64'), 'ed25519:test');
}

describe('federation client and TLS listener', { timeout: 60_000 }, () => {
  let dir: string;
  let ca: TestCa;
  let caPem: string;
  const peer = new Peer();
  const signingKey = newSigningKey();
  const clients: FederationHttp[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-fed-http-'));
    ca = makeTestCa(path.join(dir, 'ca'));
    caPem = readFileSync(ca.certPath, 'utf8');
    const cert = issueCert(ca, dir, [...Object.keys(DNS), '127.0.0.1']);
    await peer.start(cert.certPath, cert.keyPath);
  });
  after(async () => {
    for (const client of clients) client.close();
    await peer.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A client from its parts: DNS answered from `dns` (else the system's), well-known on the peer's port. */
  function client(options: {
    hosts?: Record<string, string>;
    trustCa?: boolean;
    verify?: boolean;
    whitelist?: string[];
    dns?: Record<string, string>;
    maxResponseBytes?: number;
  }): FederationHttp {
    const dns = options.dns;
    const trust = {
      policy: new AddressPolicy({ allowed: options.whitelist ?? [] }),
      extraCaPem: options.trustCa === false ? undefined : caPem,
      verifyCertificates: options.verify ?? true,
      ...(dns && {
        resolve: async (host: string) =>
          dns[host] ? [{ address: dns[host], family: 4 }] : Promise.reject(new Error('NXDOMAIN')),
      }),
    };
    const wellKnown = new WellKnownLookup({
      connections: new OutboundConnections({ ...trust, keepAlive: false }),
      port: peer.port,
    });
    const resolver = new ServerResolver(options.hosts ?? {}, {
      wellKnown: (host) => wellKnown.lookup(host),
      srv: async () => [],
    });
    const made = new FederationHttp({
      serverName: ORIGIN,
      signingKey,
      resolver,
      connections: new OutboundConnections({ ...trust, keepAlive: true }),
      maxResponseBytes: options.maxResponseBytes,
    });
    clients.push(made);
    return made;
  }

  const peerHost = () => ({ 'peer.test': `127.0.0.1:${peer.port}` });

  it('follows federation.hosts, verifies the certificate through the extra CA, signs with X-Matrix', async () => {
    const federation = client({ hosts: peerHost() });
    const body = { pdus: [], edus: [{ edu_type: 'm.typing', content: { a: 1 } }] };
    const response = await federation.request({
      destination: 'peer.test',
      method: 'PUT',
      path: '/_matrix/federation/v1/send/txn1?x=%24y',
      body,
    });
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, {
      path: '/_matrix/federation/v1/send/txn1?x=%24y',
      host: 'peer.test',
    });

    const received = peer.requestsTo('/_matrix/federation/v1/send/txn1?x=%24y').at(-1)!;
    assert.equal(received.method, 'PUT');
    assert.equal(received.headers.host, 'peer.test');
    assert.equal(received.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(received.body), body);
    const auth = parseXMatrix(received.headers.authorization!);
    assert.ok(auth, received.headers.authorization);
    assert.equal(auth.origin, ORIGIN);
    assert.equal(auth.destination, 'peer.test');
    assert.equal(auth.key, signingKey.keyId);
    const signed = {
      ...requestSigningJson({
        method: received.method,
        uri: received.url,
        origin: auth.origin,
        destination: auth.destination!,
        content: JSON.parse(received.body),
      }),
      signatures: { [auth.origin]: { [auth.key]: auth.sig } },
    };
    assert.equal(verifyJsonSignature(signed, ORIGIN, auth.key, signingKey.publicKeyBase64), true);
    // The same signature does not cover another body.
    const tampered = { ...signed, content: { pdus: [] } };
    assert.equal(
      verifyJsonSignature(tampered, ORIGIN, auth.key, signingKey.publicKeyBase64),
      false,
    );
  });

  it('sends unsigned requests without Authorization; error statuses and non-JSON bodies are answers', async () => {
    const federation = client({ hosts: peerHost() });
    const keys = await federation.request({
      destination: 'peer.test',
      method: 'GET',
      path: '/_matrix/key/v2/server',
      signed: false,
    });
    assert.equal(keys.status, 200);
    assert.equal(
      peer.requestsTo('/_matrix/key/v2/server').at(-1)!.headers.authorization,
      undefined,
    );

    const missing = await federation.request({
      destination: 'peer.test',
      method: 'GET',
      path: '/_matrix/federation/v1/missing',
    });
    assert.deepEqual(missing, {
      status: 404,
      body: { errcode: 'M_NOT_FOUND', error: 'No such thing' },
    });
    const text = await federation.request({
      destination: 'peer.test',
      method: 'GET',
      path: '/_matrix/federation/v1/text',
    });
    assert.deepEqual(text, { status: 200, body: undefined });
  });

  it('refuses a certificate from a CA it does not trust, or for another name', async () => {
    const untrusting = client({ hosts: peerHost(), trustCa: false });
    await assert.rejects(
      untrusting.request({ destination: 'peer.test', method: 'GET', path: '/x' }),
      (err: Error) => err instanceof FederationUnreachable && /certificate/i.test(err.message),
    );
    // The peer's certificate names peer.test, delegated.test and 127.0.0.1, not other.test.
    const wrongName = client({ hosts: { 'other.test': `127.0.0.1:${peer.port}` } });
    await assert.rejects(
      wrongName.request({ destination: 'other.test', method: 'GET', path: '/x' }),
      (err: Error) => err instanceof FederationUnreachable && /other\.test/.test(err.message),
    );
    // With verification off (never on a public server) both connect.
    const lax = client({
      hosts: { 'other.test': `127.0.0.1:${peer.port}` },
      trustCa: false,
      verify: false,
    });
    const answered = await lax.request({ destination: 'other.test', method: 'GET', path: '/x' });
    assert.equal(answered.status, 200);
  });

  it('refuses loopback addresses unless federation.ip_range_whitelist names them', async () => {
    const destination = `127.0.0.1:${peer.port}`;
    const strict = client({});
    await assert.rejects(
      strict.request({ destination, method: 'GET', path: '/strict' }),
      (err: Error) => err instanceof FederationUnreachable && /not allowed/.test(err.message),
    );
    // A name resolving to loopback is refused as well (checked after DNS).
    await assert.rejects(
      strict.request({ destination: `localhost:${peer.port}`, method: 'GET', path: '/strict' }),
      (err: Error) => err instanceof FederationUnreachable && /not allowed/.test(err.message),
    );
    assert.equal(
      peer.received.filter((r) => r.url === '/strict').length,
      0,
      'nothing reached the peer',
    );

    // Whitelisted: step 1, an IP literal with its port; the certificate holds the IP.
    const allowed = client({ whitelist: ['127.0.0.0/8'] });
    const response = await allowed.request({ destination, method: 'GET', path: '/ip' });
    assert.equal(response.status, 200);
    assert.equal(peer.requestsTo('/ip').at(-1)!.headers.host, destination);
  });

  it('discovers a delegation through /.well-known/matrix/server (a redirect followed), cached', async () => {
    peer.handlers.set('peer.test/.well-known/matrix/server', (response) =>
      response.writeHead(302, { location: '/moved' }).end(),
    );
    peer.handlers.set('peer.test/moved', (response) =>
      response
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=3600' })
        .end(JSON.stringify({ 'm.server': `delegated.test:${peer.port}` })),
    );
    const federation = client({ whitelist: ['127.0.0.0/8'], dns: DNS });
    for (let i = 0; i < 2; i++) {
      const response = await federation.request({
        destination: 'peer.test',
        method: 'GET',
        path: '/wk',
      });
      assert.equal(response.status, 200);
      // Host is the delegated name with its port (step 3.2); X-Matrix's destination the server name.
      const received = peer.requestsTo('/wk').at(-1)!;
      assert.equal(received.headers.host, `delegated.test:${peer.port}`);
      assert.equal(parseXMatrix(received.headers.authorization!)?.destination, 'peer.test');
    }
    assert.equal(peer.requestsTo('/.well-known/matrix/server').length, 1, 'fetched once');
    assert.equal(peer.requestsTo('/moved').length, 1);
  });

  it('follows a well-known redirect to another host; refuses http redirects and loops', async () => {
    peer.handlers.set('redirecting.test/.well-known/matrix/server', (response) =>
      response.writeHead(301, { location: `https://peer.test:${peer.port}/elsewhere` }).end(),
    );
    peer.handlers.set('peer.test/elsewhere', (response) =>
      response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ 'm.server': `delegated.test:${peer.port}` })),
    );
    peer.handlers.set('plain.test/.well-known/matrix/server', (response) =>
      response.writeHead(307, { location: `http://peer.test:${peer.port}/elsewhere` }).end(),
    );
    peer.handlers.set('loop.test/.well-known/matrix/server', (response) =>
      response.writeHead(302, { location: '/.well-known/matrix/server' }).end(),
    );
    const federation = client({ whitelist: ['127.0.0.0/8'], dns: DNS });
    const response = await federation.request({
      destination: 'redirecting.test',
      method: 'GET',
      path: '/redirected',
    });
    assert.equal(response.status, 200);
    assert.equal(
      peer.requestsTo('/redirected').at(-1)!.headers.host,
      `delegated.test:${peer.port}`,
    );

    // No delegation: the server name on 8448 (step 6), where nothing listens here.
    for (const destination of ['plain.test', 'loop.test']) {
      await assert.rejects(
        federation.request({ destination, method: 'GET', path: '/never', timeoutMs: 5000 }),
        (err: Error) =>
          err instanceof FederationUnreachable && err.message.includes(`${destination}:8448`),
        destination,
      );
    }
    const loops = peer.received.filter((r) => r.headers.host?.startsWith('loop.test'));
    assert.equal(loops.length, 6, 'the first request and 5 redirects');
    assert.equal(peer.requestsTo('/never').length, 0);
  });

  it('times out, and refuses bodies over the limit', async () => {
    const federation = client({ hosts: peerHost(), maxResponseBytes: 1000 });
    const started = Date.now();
    await assert.rejects(
      federation.request({
        destination: 'peer.test',
        method: 'GET',
        path: '/_matrix/federation/v1/hang',
        timeoutMs: 300,
      }),
      (err: Error) => err instanceof FederationUnreachable && /timed out/.test(err.message),
    );
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(
      federation.request({
        destination: 'peer.test',
        method: 'GET',
        path: '/_matrix/federation/v1/big',
      }),
      (err: Error) => err instanceof FederationUnreachable && /larger than 1000/.test(err.message),
    );
    // The client still works afterwards (the pool recovers from both).
    const ok = await federation.request({
      destination: 'peer.test',
      method: 'GET',
      path: '/after',
    });
    assert.equal(ok.status, 200);
  });

  it('refuses an unreadable ca_file and invalid server names', async () => {
    assert.throws(
      () =>
        buildFederationHttp(
          {
            hosts: {},
            ca_file: path.join(dir, 'missing.pem'),
            verify_certificates: true,
            ip_range_whitelist: [],
          },
          ORIGIN,
          signingKey,
        ),
      /federation\.ca_file/,
    );
    const federation = client({});
    await assert.rejects(
      federation.request({ destination: 'not a name', method: 'GET', path: '/x' }),
      FederationUnreachable,
    );
  });

  it("Weft's own client (from its config) and its TLS federation listener", async () => {
    const listenerCert = issueCert(ca, dir, ['weft.test', '127.0.0.1']);
    await withServer(
      async (fixture) => {
        const weft = fixture.server.weft;
        // The client built from federation.hosts and federation.ca_file, signing with the server's key.
        const response = await weft.federation.request({
          destination: 'peer.test',
          method: 'GET',
          path: '/from-weft',
        });
        assert.equal(response.status, 200);
        const auth = parseXMatrix(peer.requestsTo('/from-weft').at(-1)!.headers.authorization!)!;
        assert.equal(auth.origin, weft.config.server_name);
        assert.equal(auth.key, weft.keys.signingKey.keyId);
        const signed = {
          ...requestSigningJson({
            method: 'GET',
            uri: '/from-weft',
            origin: auth.origin,
            destination: 'peer.test',
          }),
          signatures: { [auth.origin]: { [auth.key]: auth.sig } },
        };
        assert.ok(
          verifyJsonSignature(signed, auth.origin, auth.key, weft.keys.signingKey.publicKeyBase64),
        );

        // The TLS listener serves the same routes, 404s and body parsing.
        const version = await tlsRequest(
          weft.federationUrl!,
          'GET',
          '/_matrix/federation/v1/version',
          caPem,
        );
        assert.equal(version.status, 200);
        assert.equal((version.body as { server: { name: string } }).server.name, 'Weft');
        assert.match(weft.federationUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
        const versions = await tlsRequest(
          weft.federationUrl!,
          'GET',
          '/_matrix/client/versions',
          caPem,
        );
        assert.equal(versions.status, 200);
        assert.ok(Array.isArray((versions.body as { versions: unknown }).versions));
        const unknown = await tlsRequest(
          weft.federationUrl!,
          'GET',
          '/_matrix/federation/v1/nothing-here',
          caPem,
        );
        assert.equal(unknown.status, 404);
        assert.equal((unknown.body as { errcode: string }).errcode, 'M_UNRECOGNIZED');
        const notJson = await tlsRequest(
          weft.federationUrl!,
          'POST',
          '/_matrix/client/v3/login',
          caPem,
          '{oops',
        );
        assert.equal(notJson.status, 400);
        assert.equal((notJson.body as { errcode: string }).errcode, 'M_NOT_JSON');
        // A client that does not trust the CA cannot connect.
        await assert.rejects(
          tlsRequest(weft.federationUrl!, 'GET', '/_matrix/client/versions', undefined),
        );
        // Plain HTTP on the TLS port is no request.
        const plain = await fetch(
          weft.federationUrl!.replace('https:', 'http:') + '/_matrix/client/versions',
        ).then(
          (r) => r.status,
          () => 'refused',
        );
        assert.notEqual(plain, 200);
      },
      {
        config: {
          federation: {
            hosts: peerHost(),
            ca_file: ca.certPath,
            listener: {
              port: 0,
              bind_address: '127.0.0.1',
              tls_certificate_path: listenerCert.certPath,
              tls_private_key_path: listenerCert.keyPath,
            },
          },
        },
      },
    );
  });

  it('no listener without a certificate', async () => {
    await withServer(async (fixture) => {
      assert.equal(fixture.server.weft.federationUrl, undefined);
    });
  });
});

/** One HTTPS request with `ca` trusted (undefined: the bundled CAs only). */
function tlsRequest(
  base: string,
  method: string,
  urlPath: string,
  ca: string | undefined,
  body?: string,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(`${base}${urlPath}`, { method, ca, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += String(chunk)));
      response.on('end', () =>
        resolve({ status: response.statusCode!, body: text ? JSON.parse(text) : undefined }),
      );
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body);
  });
}
