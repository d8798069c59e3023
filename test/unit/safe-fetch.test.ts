/**
 * The safe outbound fetcher against a real server on 127.0.0.1: addresses
 * checked after resolution and pinned for the connection, redirects checked
 * hop by hop, the size limit and the deadline.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AddressPolicy } from '../../src/net/address-rules.js';
import { OutboundError, safeFetch, type SafeFetchOptions } from '../../src/net/safe-fetch.js';

const LOCAL = new AddressPolicy({ allowed: ['127.0.0.1'] });

function rejectsWith(promise: Promise<unknown>, reason: string) {
  return assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof OutboundError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

describe('safe fetch', () => {
  let server: Server;
  let base: string;
  let port: number;
  let hits = 0;

  before(async () => {
    server = createServer((req, res) => {
      hits++;
      const url = new URL(req.url!, 'http://x');
      if (url.pathname === '/ok') res.end(`host ${req.headers.host}`);
      else if (url.pathname === '/echo') {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => res.end(`${req.method} ${Buffer.concat(chunks).toString()}`));
      } else if (url.pathname === '/moved') {
        res.writeHead(Number(url.searchParams.get('status')), { location: '/echo' }).end();
      } else if (url.pathname === '/redirect') {
        res.writeHead(302, { location: url.searchParams.get('to')! }).end();
      } else if (url.pathname === '/loop') res.writeHead(301, { location: '/loop' }).end();
      else if (url.pathname === '/big') res.end(Buffer.alloc(2000, 'a'));
      else if (url.pathname === '/big-chunked') {
        res.write(Buffer.alloc(600, 'a'));
        setTimeout(() => res.end(Buffer.alloc(600, 'a')), 10);
      } else if (url.pathname === '/slow') setTimeout(() => res.end('late'), 2000);
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const options = (extra: Partial<SafeFetchOptions> = {}): SafeFetchOptions => ({
    policy: LOCAL,
    maxBytes: 1000,
    timeoutMs: 1000,
    ...extra,
  });

  it('fetches an allowed address', async () => {
    const res = await safeFetch(`${base}/ok`, options());
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), `host 127.0.0.1:${port}`);
    assert.equal(res.url, `${base}/ok`);
  });

  it('refuses a denied address before connecting', async () => {
    const before = hits;
    await rejectsWith(
      safeFetch(`${base}/ok`, options({ policy: new AddressPolicy() })),
      'blocked-ip-literal',
    );
    await rejectsWith(safeFetch(`http://[::1]:${port}/ok`, options()), 'blocked-ip-literal');
    await rejectsWith(
      safeFetch(`http://[::ffff:127.0.0.1]:${port}/ok`, options({ policy: new AddressPolicy() })),
      'blocked-ip-literal',
    );
    // The URL parser's spellings of 127.0.0.1 are the same address.
    await rejectsWith(
      safeFetch(`http://2130706433:${port}/ok`, options({ policy: new AddressPolicy() })),
      'blocked-ip-literal',
    );
    assert.equal(hits, before, 'no request reached the server');
  });

  it('connects to the address it checked, whatever the name', async () => {
    // A name no DNS knows: the request works only through the pinned lookup.
    const resolve = async () => [{ address: '127.0.0.1', family: 4 }];
    const res = await safeFetch(`http://preview.invalid:${port}/ok`, options({ resolve }));
    assert.equal(res.body.toString(), `host preview.invalid:${port}`);
  });

  it('refuses a name if any of its addresses is denied', async () => {
    const resolve = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    await rejectsWith(
      safeFetch(`http://preview.invalid:${port}/ok`, options({ resolve })),
      'blocked-address',
    );
    const nothing = async () => [];
    await rejectsWith(
      safeFetch(`http://preview.invalid:${port}/ok`, options({ resolve: nothing })),
      'dns',
    );
    const failing = async () => Promise.reject(new Error('ENOTFOUND'));
    await rejectsWith(
      safeFetch(`http://preview.invalid:${port}/ok`, options({ resolve: failing })),
      'dns',
    );
  });

  it('follows redirects, checking every hop', async () => {
    const res = await safeFetch(`${base}/redirect?to=/ok`, options());
    assert.equal(res.url, `${base}/ok`);
    const denied = `${base}/redirect?to=${encodeURIComponent(`http://127.0.0.2:${port}/ok`)}`;
    await rejectsWith(safeFetch(denied, options()), 'blocked-ip-literal');
    const ftp = `${base}/redirect?to=${encodeURIComponent('ftp://example.org/')}`;
    await rejectsWith(safeFetch(ftp, options()), 'bad-url');
    await rejectsWith(safeFetch(`${base}/loop`, options()), 'too-many-redirects');
  });

  it('sends a method and a body, repeated by 307/308 and dropped by the other redirects', async () => {
    const post = {
      method: 'PUT',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    };
    const direct = await safeFetch(`${base}/echo`, options(post));
    assert.equal(direct.body.toString(), 'PUT {"a":1}');
    const kept = await safeFetch(`${base}/moved?status=307`, options(post));
    assert.equal(kept.body.toString(), 'PUT {"a":1}');
    const dropped = await safeFetch(`${base}/moved?status=302`, options(post));
    assert.equal(dropped.body.toString(), 'GET ');
    const unfollowed = await safeFetch(
      `${base}/moved?status=308`,
      options({ ...post, followRedirects: false }),
    );
    assert.equal(unfollowed.status, 308);
    assert.equal(unfollowed.headers.location, '/echo');
  });

  it('stops at the size limit, declared or not', async () => {
    await rejectsWith(safeFetch(`${base}/big`, options()), 'too-large');
    await rejectsWith(safeFetch(`${base}/big-chunked`, options()), 'too-large');
    const res = await safeFetch(`${base}/big`, options({ maxBytes: 2000 }));
    assert.equal(res.body.length, 2000);
  });

  it('gives up at the deadline', async () => {
    const started = Date.now();
    await rejectsWith(safeFetch(`${base}/slow`, options({ timeoutMs: 200 })), 'timeout');
    assert.ok(Date.now() - started < 1500);
  });

  it('fetches only http and https', async () => {
    for (const url of [
      'file:///etc/passwd',
      'ftp://127.0.0.1/',
      'not a url',
      'data:text/html,hi',
    ]) {
      await rejectsWith(safeFetch(url, options()), 'bad-url');
    }
  });

  it('lets the caller refuse a response before its body is read', async () => {
    const refusal = new Error('not wanted');
    await assert.rejects(
      safeFetch(
        `${base}/big`,
        options({
          maxBytes: 5000,
          checkResponse: () => {
            throw refusal;
          },
        }),
      ),
      (err) => err === refusal,
    );
  });
});
