/**
 * URL previews over HTTP, against a real page server on 127.0.0.1 (reachable
 * only because the test config allows that address): OpenGraph from HTML, the
 * page's image stored as local media, an image URL, the cache, and the
 * refusals: previews off, the address without the allow list, a redirect to a
 * denied address, a page too large, a page too slow, bad parameters.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { serverSuite, withServer, type Fixture } from '../support/fixture.js';
import { expectError, expectSpec } from '../support/spec-schemas.js';

const PREVIEW = '/_matrix/client/v1/media/preview_url';
const LEGACY_PREVIEW = '/_matrix/media/v3/preview_url';
const MAX_SPIDER_SIZE = 100_000;

type Og = Record<string, unknown>;

/** The pages the server previews, and how often each was asked for. */
class PageServer {
  readonly hits = new Map<string, number>();
  private server!: Server;
  base = '';
  port = 0;

  constructor(private readonly png: Buffer) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    this.base = `http://127.0.0.1:${this.port}`;
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url!, this.base).pathname;
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
    const html = (body: string | Buffer, type = 'text/html; charset=utf-8'): void => {
      res.writeHead(200, { 'content-type': type }).end(body);
    };
    switch (path) {
      case '/article':
        return html(`<!doctype html><html><head>
          <meta property="og:title" content="Weft &amp; friends">
          <meta property="og:description" content="A homeserver">
          <meta property="og:image" content="/cover.png">
          <title>Ignored</title></head><body><p>Body</p></body></html>`);
      case '/plain':
        return html(`<html><head><title>Plain page</title></head><body>
          <nav>Menu</nav><p>Some text about things.</p></body></html>`);
      case '/latin1':
        return html(
          Buffer.from('<title>Caf\xe9</title>', 'latin1'),
          'text/html; charset=iso-8859-1',
        );
      case '/broken-image':
        return html(
          '<meta property="og:title" content="No picture"><meta property="og:image" content="/missing.png">',
        );
      case '/cover.png':
        return void res.writeHead(200, { 'content-type': 'image/png' }).end(this.png);
      case '/counted':
        // Slow enough that concurrent previews overlap.
        return void setTimeout(() => html('<title>Counted</title>'), 200);
      case '/to-denied':
        return void res.writeHead(302, { location: `http://127.0.0.2:${this.port}/article` }).end();
      case '/to-article':
        return void res.writeHead(301, { location: '/article' }).end();
      case '/huge':
        return html(`<title>Huge</title>${'x'.repeat(MAX_SPIDER_SIZE + 1)}`);
      case '/slow':
        return void setTimeout(() => html('<title>Late</title>'), 3000);
      case '/untyped':
        return void res.end('<title>No type</title>');
      case '/json':
        return html('{}', 'application/json');
      default:
        return void res.writeHead(404).end();
    }
  }
}

function preview(fixture: Fixture, token: string, url: string, path = PREVIEW) {
  return fixture.api.get<Og>(`${path}?url=${encodeURIComponent(url)}`, { token });
}

describe('URL previews', () => {
  let pages: PageServer;
  before(async () => {
    const png = await sharp({
      create: { width: 40, height: 30, channels: 3, background: '#3366cc' },
    })
      .png()
      .toBuffer();
    pages = new PageServer(png);
    await pages.start();
  });
  after(() => pages.stop());

  describe('enabled, 127.0.0.1 allowed', () => {
    const fixture = serverSuite({
      url_preview: {
        enabled: true,
        ip_range_whitelist: ['127.0.0.1'],
        max_spider_size: MAX_SPIDER_SIZE,
        timeout_ms: 1000,
      },
    });
    const alice = fixture.user('alice');

    it('answers a page’s OpenGraph with its image stored as local media', async () => {
      const res = await preview(fixture, alice.access_token, `${pages.base}/article`);
      const og = expectSpec(res, 'GET', PREVIEW);
      assert.equal(og['og:title'], 'Weft & friends');
      assert.equal(og['og:description'], 'A homeserver');
      assert.match(String(og['og:image']), /^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);
      assert.equal(og['og:image:type'], 'image/png');
      assert.equal(og['og:image:width'], 40);
      assert.equal(og['og:image:height'], 30);
      assert.equal(typeof og['matrix:image:size'], 'number');

      // The effect: the image can be downloaded, byte for byte what the page served.
      const mediaPath = String(og['og:image']).slice('mxc://'.length);
      const download = await fetch(
        `${fixture.server.url}/_matrix/client/v1/media/download/${mediaPath}`,
        {
          headers: { authorization: `Bearer ${alice.access_token}` },
        },
      );
      assert.equal(download.status, 200);
      const bytes = Buffer.from(await download.arrayBuffer());
      assert.equal(bytes.length, og['matrix:image:size']);
      assert.equal(download.headers.get('content-type'), 'image/png');
    });

    it('falls back to the title and body text, and decodes the declared charset', async () => {
      const plain = expectSpec(
        await preview(fixture, alice.access_token, `${pages.base}/plain`),
        'GET',
        PREVIEW,
      );
      assert.equal(plain['og:title'], 'Plain page');
      assert.equal(plain['og:description'], 'Some text about things.');
      assert.equal(plain['og:image'], undefined);
      const latin1 = await preview(fixture, alice.access_token, `${pages.base}/latin1`);
      assert.equal(expectSpec(latin1, 'GET', PREVIEW)['og:title'], 'Café');
    });

    it('previews an image URL as the image itself, also on the legacy path with ts', async () => {
      const url = `${pages.base}/cover.png`;
      const res = await fixture.api.get<Og>(
        `${LEGACY_PREVIEW}?url=${encodeURIComponent(url)}&ts=1510610716656`,
        { token: alice.access_token },
      );
      const og = expectSpec(res, 'GET', LEGACY_PREVIEW);
      assert.match(String(og['og:image']), /^mxc:\/\/localhost\//);
      assert.equal(og['og:image:width'], 40);
      assert.equal(og['og:image:type'], 'image/png');
    });

    it('follows an allowed redirect, and drops an image that cannot be fetched', async () => {
      const redirected = await preview(fixture, alice.access_token, `${pages.base}/to-article`);
      assert.equal(expectSpec(redirected, 'GET', PREVIEW)['og:title'], 'Weft & friends');
      const broken = expectSpec(
        await preview(fixture, alice.access_token, `${pages.base}/broken-image`),
        'GET',
        PREVIEW,
      );
      assert.equal(broken['og:title'], 'No picture');
      assert.equal(broken['og:image'], undefined);
    });

    it('fetches a URL once for concurrent and repeated previews', async () => {
      const url = `${pages.base}/counted`;
      const [first, second] = await Promise.all([
        preview(fixture, alice.access_token, url),
        preview(fixture, alice.access_token, url),
      ]);
      const third = await preview(fixture, alice.access_token, url);
      for (const res of [first, second, third]) {
        assert.equal(expectSpec(res, 'GET', PREVIEW)['og:title'], 'Counted');
      }
      assert.equal(pages.hits.get('/counted'), 1);
    });

    it('refuses a redirect to a denied address without reaching it', async () => {
      const articleHits = pages.hits.get('/article') ?? 0;
      const res = await preview(fixture, alice.access_token, `${pages.base}/to-denied`);
      // Synapse: 403 "IP address blocked" (with M_UNKNOWN) for a blocked IP in a URL.
      expectError(res, 403, 'M_UNKNOWN');
      assert.equal(pages.hits.get('/to-denied'), 1);
      assert.equal(
        pages.hits.get('/article') ?? 0,
        articleHits,
        'the denied address was not asked',
      );
    });

    it('answers 502 for pages too large, too slow, of another type or missing', async () => {
      expectError(
        await preview(fixture, alice.access_token, `${pages.base}/huge`),
        502,
        'M_TOO_LARGE',
      );
      const started = Date.now();
      expectError(
        await preview(fixture, alice.access_token, `${pages.base}/slow`),
        502,
        'M_UNKNOWN',
      );
      assert.ok(Date.now() - started < 2500, 'the timeout, not the page, ended it');
      expectError(
        await preview(fixture, alice.access_token, `${pages.base}/json`),
        502,
        'M_UNKNOWN',
      );
      // No Content-Type: nothing to preview, as Synapse answers.
      const untyped = await preview(fixture, alice.access_token, `${pages.base}/untyped`);
      assert.deepEqual(expectSpec(untyped, 'GET', PREVIEW), {});
      expectError(
        await preview(fixture, alice.access_token, `${pages.base}/missing`),
        502,
        'M_UNKNOWN',
      );
      // Nothing failed is cached: the same page is fetched again.
      await preview(fixture, alice.access_token, `${pages.base}/missing`);
      assert.equal(pages.hits.get('/missing'), 2);
    });

    it('refuses bad parameters and other addresses', async () => {
      const token = alice.access_token;
      expectError(await fixture.api.get(PREVIEW, { token }), 400, 'M_MISSING_PARAM');
      expectError(await fixture.api.get(`${PREVIEW}?url=`, { token }), 400, 'M_MISSING_PARAM');
      for (const url of [
        'not a url',
        'ftp://127.0.0.1/',
        'file:///etc/passwd',
        'javascript:alert(1)',
      ]) {
        expectError(await preview(fixture, token, url), 400, 'M_INVALID_PARAM');
      }
      const ts = await fixture.api.get(
        `${PREVIEW}?url=${encodeURIComponent(`${pages.base}/plain`)}&ts=soon`,
        { token },
      );
      expectError(ts, 400, 'M_INVALID_PARAM');
      expectError(
        await preview(fixture, token, `http://10.0.0.1:${pages.port}/`),
        403,
        'M_UNKNOWN',
      );
      expectError(await preview(fixture, token, `http://[::1]:${pages.port}/`), 403, 'M_UNKNOWN');
      expectError(await fixture.api.get(`${PREVIEW}?url=x`), 401, 'M_MISSING_TOKEN');
      const guest = await fixture.api.post<{ access_token: string }>(
        '/_matrix/client/v3/register?kind=guest',
        {},
      );
      expectError(
        await preview(fixture, guest.body.access_token, `${pages.base}/plain`),
        403,
        'M_GUEST_ACCESS_FORBIDDEN',
      );
    });
  });

  it('refuses 127.0.0.1 when the allow list does not name it', () =>
    withServer(
      async (fixture) => {
        const bob = await fixture.register('bob');
        const before = pages.hits.get('/plain') ?? 0;
        expectError(
          await preview(fixture, bob.access_token, `${pages.base}/plain`),
          403,
          'M_UNKNOWN',
        );
        // A name resolving to loopback is refused like one that does not resolve (Synapse's 502).
        expectError(
          await preview(fixture, bob.access_token, `http://localhost:${pages.port}/plain`),
          502,
          'M_UNKNOWN',
        );
        assert.equal(pages.hits.get('/plain') ?? 0, before, 'the page server was never asked');
      },
      { config: { url_preview: { enabled: true } } },
    ));

  it('answers 404 M_UNRECOGNIZED while previews are off, as Synapse', () =>
    withServer(async (fixture) => {
      const bob = await fixture.register('bob');
      expectError(
        await preview(fixture, bob.access_token, `${pages.base}/plain`),
        404,
        'M_UNRECOGNIZED',
      );
      expectError(
        await preview(fixture, bob.access_token, `${pages.base}/plain`, LEGACY_PREVIEW),
        404,
        'M_UNRECOGNIZED',
      );
      expectError(await fixture.api.get(`${PREVIEW}?url=x`), 401, 'M_MISSING_TOKEN');
    }));
});
