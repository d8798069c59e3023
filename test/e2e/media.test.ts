/**
 * The media repository over HTTP: uploads (direct and asynchronous), downloads
 * byte for byte with the spec's headers, the legacy freeze, thumbnails and
 * their rules, limits, and a 50 MB upload streamed without being held in memory.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { get as httpGet, request as httpRequest, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { crc32 } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { Api, type ApiResponse, type Session } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  assertResponseMatchesSpec,
  assertSpecError,
  expectError,
} from '../support/spec-schemas.js';

type Body = Record<string, unknown>;

const UPLOAD = '/_matrix/media/v3/upload';
const CREATE = '/_matrix/media/v1/create';
const AUTHED = '/_matrix/client/v1/media';
const CSP =
  "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
  "style-src 'unsafe-inline'; object-src 'self';";

interface Download {
  status: number;
  headers: Headers;
  bytes: Buffer;
}

function mediaIdOf(contentUri: unknown): string {
  const match = /^mxc:\/\/localhost\/([A-Za-z0-9_-]+)$/.exec(String(contentUri));
  assert.ok(match, `not a local mxc URI: ${String(contentUri)}`);
  return match[1]!;
}

/** A PNG whose header claims `width`×`height` but whose pixel data is garbage. */
function pngClaiming(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.from('not zlib data')),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('media repository', () => {
  let server: TestServer;
  let api: Api;
  let alice: Session;
  let bob: Session;
  let png: Buffer;

  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
    alice = await api.register('alice');
    bob = await api.register('bob');
    png = await sharp({
      create: { width: 1000, height: 800, channels: 3, background: '#3366cc' },
    })
      .png()
      .toBuffer();
  });
  after(async () => server.close());

  async function upload(
    body: string | Buffer,
    contentType: string | undefined,
    options: { fileName?: string; token?: string; path?: string } = {},
  ): Promise<ApiResponse<Body>> {
    const query =
      options.fileName === undefined ? '' : `?filename=${encodeURIComponent(options.fileName)}`;
    const headers: Record<string, string> = {};
    if (contentType !== undefined) headers['content-type'] = contentType;
    return api.post(`${options.path ?? UPLOAD}${query}`, undefined, {
      token: options.token ?? alice.access_token,
      rawBody: body,
      headers,
    });
  }

  async function uploadOk(body: string | Buffer, contentType?: string, fileName?: string) {
    const res = await upload(body, contentType, { fileName });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('POST', UPLOAD, 200, res.body);
    return mediaIdOf(res.body.content_uri);
  }

  async function get(
    urlPath: string,
    options: { token?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Download> {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? alice.access_token : options.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    const res = await fetch(server.url + urlPath, { headers });
    return {
      status: res.status,
      headers: res.headers,
      bytes: Buffer.from(await res.arrayBuffer()),
    };
  }

  const download = (mediaId: string, suffix = '', options = {}) =>
    get(`${AUTHED}/download/localhost/${mediaId}${suffix}`, options);
  const thumbnail = (mediaId: string, query: string, options = {}) =>
    get(`${AUTHED}/thumbnail/localhost/${mediaId}?${query}`, options);
  const errorOf = (res: Download) => JSON.parse(res.bytes.toString('utf8')) as Body;

  function assertSecurityHeaders(headers: Headers): void {
    assert.equal(headers.get('content-security-policy'), CSP);
    assert.equal(headers.get('cross-origin-resource-policy'), 'cross-origin');
  }

  describe('upload and download', () => {
    it('advertises the upload limit', async () => {
      const res = await api.get(`${AUTHED}/config`, { token: alice.access_token });
      assert.equal(res.status, 200);
      assertResponseMatchesSpec('GET', `${AUTHED}/config`, 200, res.body);
      assert.equal(res.body['m.upload.size'], 50 * 1024 * 1024);
      const legacy = await api.get('/_matrix/media/v3/config', { token: alice.access_token });
      assert.deepEqual(legacy.body, res.body);
    });

    it('gives text back byte for byte with its type, file name and the security headers', async () => {
      const text = 'héllo wörld\n'.repeat(100);
      const mediaId = await uploadOk(text, 'text/plain; charset=utf-8', 'notes.txt');
      const res = await download(mediaId);
      assert.equal(res.status, 200);
      assert.equal(res.bytes.toString('utf8'), text);
      assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(res.headers.get('content-disposition'), 'inline; filename="notes.txt"');
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
      assertSecurityHeaders(res.headers);
    });

    it('gives a PNG back byte for byte, and the r0 upload path works too', async () => {
      const res = await upload(png, 'image/png', { path: '/_matrix/media/r0/upload' });
      assert.equal(res.status, 200);
      const got = await download(mediaIdOf(res.body.content_uri));
      assert.equal(got.status, 200);
      assert.ok(got.bytes.equals(png), 'the PNG changed on the way');
      assert.equal(got.headers.get('content-type'), 'image/png');
      assert.equal(got.headers.get('content-disposition'), 'inline');
    });

    it('serves HTML and SVG as attachments, under the sandboxing CSP', async () => {
      for (const type of ['text/html', 'image/svg+xml']) {
        const mediaId = await uploadOk('<script>alert(1)</script>', type, 'page');
        const res = await download(mediaId);
        assert.equal(res.headers.get('content-type'), type);
        assert.equal(res.headers.get('content-disposition'), 'attachment; filename="page"');
        assertSecurityHeaders(res.headers);
      }
    });

    it('defaults the type to application/octet-stream and names files as RFC 6266 says', async () => {
      // A Buffer body: fetch adds no Content-Type of its own.
      const mediaId = await uploadOk(Buffer.from('raw'), undefined, 'résumé "final".pdf');
      const res = await download(mediaId);
      assert.equal(res.headers.get('content-type'), 'application/octet-stream');
      assert.equal(
        res.headers.get('content-disposition'),
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%20%22final%22.pdf",
      );
      const renamed = await download(mediaId, '/other%20name.bin');
      assert.equal(
        renamed.headers.get('content-disposition'),
        'attachment; filename="other name.bin"',
      );
      const quoted = await download(mediaId, `/${encodeURIComponent('a"b.txt')}`);
      assert.equal(quoted.headers.get('content-disposition'), 'attachment; filename="a\\"b.txt"');
    });

    it('serves byte ranges', async () => {
      const mediaId = await uploadOk('0123456789', 'text/plain');
      const middle = await download(mediaId, '', { headers: { range: 'bytes=2-5' } });
      assert.equal(middle.status, 206);
      assert.equal(middle.bytes.toString(), '2345');
      assert.equal(middle.headers.get('content-range'), 'bytes 2-5/10');
      const suffix = await download(mediaId, '', { headers: { range: 'bytes=-3' } });
      assert.equal(suffix.bytes.toString(), '789');
      const beyond = await download(mediaId, '', { headers: { range: 'bytes=10-' } });
      assert.equal(beyond.status, 416);
      assert.equal(beyond.headers.get('content-range'), 'bytes */10');
    });

    it('accepts an empty file', async () => {
      const mediaId = await uploadOk('', 'text/plain');
      const res = await download(mediaId);
      assert.equal(res.status, 200);
      assert.equal(res.bytes.length, 0);
    });

    it('requires a token where the spec does, and refuses guests uploads', async () => {
      const mediaId = await uploadOk('x', 'text/plain');
      const anonymous = await download(mediaId, '', { token: null });
      expectError({ status: anonymous.status, body: errorOf(anonymous) }, 401, 'M_MISSING_TOKEN');
      const noToken = await api.post(UPLOAD, undefined, { rawBody: 'x' });
      expectError(noToken, 401, 'M_MISSING_TOKEN');
      const guest = await api.post<Session>('/_matrix/client/v3/register?kind=guest', {});
      expectError(
        await upload('x', 'text/plain', { token: guest.body.access_token }),
        403,
        'M_GUEST_ACCESS_FORBIDDEN',
      );
      // Guests may read media (as Synapse allows).
      assert.equal((await download(mediaId, '', { token: guest.body.access_token })).status, 200);
    });

    it('answers 404 M_NOT_FOUND for unknown, malformed and remote media', async () => {
      const mediaId = await uploadOk('x', 'text/plain');
      for (const target of [
        'localhost/unknownMediaId1234',
        'localhost/bad.id',
        `remote.example/${mediaId}`,
      ]) {
        const res = await get(`${AUTHED}/download/${target}`);
        assert.equal(res.status, 404, target);
        assertSpecError(errorOf(res), 'M_NOT_FOUND');
      }
    });

    it('keeps the legacy endpoints to media uploaded before the freeze', async () => {
      const media = server.config.media;
      // The service reads the live config: turn the freeze off, then on, as an admin would.
      media.freeze_unauthenticated_media = false;
      const before = await uploadOk('old', 'text/plain');
      media.freeze_unauthenticated_media = true;
      const after = await uploadOk('new', 'text/plain');
      for (const version of ['v3', 'r0']) {
        const old = await get(`/_matrix/media/${version}/download/localhost/${before}`, {
          token: null,
        });
        assert.equal(old.status, 200);
        assert.equal(old.bytes.toString(), 'old');
        assertSecurityHeaders(old.headers);
        const frozen = await get(`/_matrix/media/${version}/download/localhost/${after}`, {
          token: null,
        });
        assert.equal(frozen.status, 404);
        assertSpecError(errorOf(frozen), 'M_NOT_FOUND');
      }
      assert.equal((await download(after)).status, 200);
    });

    it('refuses uploads over the limit: by Content-Length and while streaming', async () => {
      const media = server.config.media;
      media.max_upload_bytes = 1000;
      try {
        expectError(await upload(Buffer.alloc(1001), 'text/plain'), 413, 'M_TOO_LARGE');
        // No Content-Length: the limit trips while the body streams in.
        const chunks = [Buffer.alloc(600), Buffer.alloc(600)];
        const res = await fetch(`${server.url}${UPLOAD}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${alice.access_token}` },
          body: new ReadableStream({
            pull(controller) {
              const next = chunks.shift();
              if (next) controller.enqueue(next);
              else controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
        assert.equal(res.status, 413);
        assertSpecError(await res.json(), 'M_TOO_LARGE');
        assert.equal((await upload(Buffer.alloc(1000), 'text/plain')).status, 200);
      } finally {
        media.max_upload_bytes = 50 * 1024 * 1024;
      }
      assert.deepEqual(readdirSync(path.join(server.dataDir, 'media', 'tmp')), []);
    });
  });

  describe('asynchronous upload', () => {
    async function create(token = alice.access_token): Promise<string> {
      const res = await api.post(CREATE, {}, { token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assertResponseMatchesSpec('POST', CREATE, 200, res.body);
      const expires = res.body.unused_expires_at as number;
      assert.ok(expires > Date.now() + 23 * 3600_000 && expires <= Date.now() + 24 * 3600_000);
      return mediaIdOf(res.body.content_uri);
    }
    const put = (mediaId: string, body: string, token = alice.access_token, server = 'localhost') =>
      api.put(`/_matrix/media/v3/upload/${server}/${mediaId}?filename=late.txt`, undefined, {
        token,
        rawBody: body,
        headers: { 'content-type': 'text/plain' },
      });

    it('creates an ID, takes its content once, and serves it', async () => {
      const mediaId = await create();
      const first = await put(mediaId, 'later');
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assertResponseMatchesSpec(
        'PUT',
        '/_matrix/media/v3/upload/{serverName}/{mediaId}',
        200,
        first.body,
      );
      expectError(await put(mediaId, 'again'), 409, 'M_CANNOT_OVERWRITE_MEDIA');
      const res = await download(mediaId);
      assert.equal(res.bytes.toString(), 'later');
      assert.equal(res.headers.get('content-disposition'), 'inline; filename="late.txt"');
    });

    it('refuses other users, unknown IDs and lapsed IDs', async () => {
      const mediaId = await create();
      expectError(await put(mediaId, 'x', bob.access_token), 403, 'M_FORBIDDEN');
      expectError(await put('NoSuchMediaId', 'x'), 404, 'M_NOT_FOUND');
      expectError(
        await put(mediaId, 'x', alice.access_token, 'remote.example'),
        404,
        'M_NOT_FOUND',
      );
      const media = server.config.media;
      media.unused_expires_after_ms = 1;
      let lapsed: string;
      try {
        const res = await api.post(CREATE, {}, { token: alice.access_token });
        lapsed = mediaIdOf(res.body.content_uri);
      } finally {
        media.unused_expires_after_ms = 24 * 3600_000;
      }
      await sleep(5);
      expectError(await put(lapsed, 'x'), 404, 'M_NOT_FOUND');
    });

    it('makes downloads wait for the content, then 504 M_NOT_YET_UPLOADED after timeout_ms', async () => {
      const mediaId = await create(bob.access_token);
      const started = Date.now();
      const timedOut = await download(mediaId, '?timeout_ms=300');
      assert.equal(timedOut.status, 504);
      assertSpecError(errorOf(timedOut), 'M_NOT_YET_UPLOADED');
      assert.ok(Date.now() - started >= 290, 'answered before timeout_ms');
      const thumb = await thumbnail(mediaId, 'width=32&height=32&timeout_ms=0');
      assert.equal(thumb.status, 504);

      const waiting = download(mediaId, '?timeout_ms=5000');
      await sleep(100);
      assert.equal((await put(mediaId, 'worth the wait', bob.access_token)).status, 200);
      const res = await waiting;
      assert.equal(res.status, 200);
      assert.equal(res.bytes.toString(), 'worth the wait');
    });
  });

  describe('thumbnails', () => {
    let pngId: string;

    before(async () => {
      pngId = await uploadOk(png, 'image/png');
    });

    async function thumbnailOk(mediaId: string, query: string) {
      const res = await thumbnail(mediaId, query);
      assert.equal(res.status, 200, res.bytes.toString().slice(0, 200));
      assertSecurityHeaders(res.headers);
      const meta = await sharp(res.bytes, { animated: true }).metadata();
      return { res, meta };
    }

    it('scales to at least the requested size, keeping the aspect ratio', async () => {
      const { res, meta } = await thumbnailOk(pngId, 'width=320&height=240&method=scale');
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.equal(res.headers.get('content-disposition'), 'inline; filename="thumbnail.png"');
      assert.deepEqual([meta.width, meta.height], [320, 256]);
    });

    it('crops to the requested aspect ratio, using the next preset size up', async () => {
      const exact = await thumbnailOk(pngId, 'width=96&height=96&method=crop');
      assert.deepEqual([exact.meta.width, exact.meta.height], [96, 96]);
      const smaller = await thumbnailOk(pngId, 'width=50&height=50&method=crop');
      assert.deepEqual([smaller.meta.width, smaller.meta.height], [96, 96]);
      const odd = await thumbnailOk(pngId, 'width=200&height=100&method=crop');
      assert.deepEqual([odd.meta.width, odd.meta.height], [200, 100]);
    });

    it('never upscales: a request larger than the image gets the original', async () => {
      const res = await thumbnail(pngId, 'width=2000&height=2000&method=scale');
      assert.equal(res.status, 200);
      assert.ok(res.bytes.equals(png));
      assert.equal(res.headers.get('content-disposition'), 'inline; filename="thumbnail.png"');
    });

    it('keeps JPEG sources JPEG', async () => {
      const jpeg = await sharp(png).jpeg().toBuffer();
      const mediaId = await uploadOk(jpeg, 'image/jpeg');
      const { res, meta } = await thumbnailOk(mediaId, 'width=640&height=480');
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 640, 512]);
    });

    it('animates only when asked to', async () => {
      const frame = (background: string) =>
        sharp({ create: { width: 400, height: 400, channels: 4, background } })
          .png()
          .toBuffer();
      const frames = await Promise.all(['#ff0000', '#00ff00', '#0000ff'].map(frame));
      const gif = await sharp(frames, { join: { animated: true } })
        .gif()
        .toBuffer();
      assert.equal((await sharp(gif).metadata()).pages, 3);
      const mediaId = await uploadOk(gif, 'image/gif');
      const still = await thumbnailOk(mediaId, 'width=96&height=96&method=crop');
      assert.equal(still.res.headers.get('content-type'), 'image/png');
      assert.equal(still.meta.pages ?? 1, 1);
      const moving = await thumbnailOk(mediaId, 'width=96&height=96&method=crop&animated=true');
      assert.equal(moving.res.headers.get('content-type'), 'image/webp');
      assert.equal(moving.meta.pages, 3);
      // Larger than the original: not the animated original, its first frame.
      const big = await thumbnailOk(mediaId, 'width=800&height=800');
      assert.equal(big.res.headers.get('content-type'), 'image/png');
      assert.deepEqual([big.meta.width, big.meta.height, big.meta.pages ?? 1], [400, 400, 1]);
    });

    it('caches thumbnails and makes the usual sizes right after an upload', async () => {
      const mediaId = await uploadOk(png, 'image/png');
      const dir = path.join(server.dataDir, 'media', 'thumbnails', mediaId);
      for (let i = 0; i < 100 && (!existsSync(dir) || readdirSync(dir).length < 5); i++) {
        await sleep(50);
      }
      assert.deepEqual(readdirSync(dir).sort(), [
        '320x240-scale-s.png',
        '32x32-crop-s.png',
        '640x480-scale-s.png',
        '800x600-scale-s.png',
        '96x96-crop-s.png',
      ]);
    });

    it('refuses what it cannot thumbnail: 400 for non-images and broken images, 413 for bombs', async () => {
      const text = await uploadOk('not an image', 'text/plain');
      const broken = await uploadOk(
        Buffer.concat([png.subarray(0, 8), Buffer.from('garbage')]),
        'image/png',
      );
      const truncated = await uploadOk(png.subarray(0, png.length - 40), 'image/png');
      for (const mediaId of [text, broken]) {
        const res = await thumbnail(mediaId, 'width=32&height=32');
        assert.equal(res.status, 400);
        assertSpecError(errorOf(res), 'M_UNKNOWN');
      }
      const cut = await thumbnail(truncated, 'width=32&height=32&method=crop');
      assert.ok([200, 400].includes(cut.status), `truncated PNG: ${cut.status}`);
      const bomb = await uploadOk(pngClaiming(60_000, 60_000), 'image/png');
      const res = await thumbnail(bomb, 'width=32&height=32');
      assert.equal(res.status, 413);
      assertSpecError(errorOf(res), 'M_TOO_LARGE');
      // The server is still fine.
      assert.equal((await thumbnail(pngId, 'width=32&height=32&method=crop')).status, 200);
    });

    it('validates the parameters', async () => {
      for (const query of [
        'height=32',
        'width=0&height=32',
        'width=32&height=32&method=zoom',
        'width=x&height=1',
      ]) {
        const res = await thumbnail(pngId, query);
        assert.equal(res.status, 400, query);
      }
    });
  });

  describe('limits', () => {
    let limited: TestServer;
    let limitedApi: Api;

    before(async () => {
      limited = await startTestServer({
        rate_limits: {
          enabled: true,
          media_upload_per_user: { per_second: 0.001, burst_count: 3 },
        },
        media: { max_pending_uploads_per_user: 2 },
      });
      limitedApi = new Api(limited.url);
    });
    after(async () => limited.close());

    it('limits pending IDs and the upload rate per user with 429', async () => {
      const carol = await limitedApi.register('carol');
      const token = carol.access_token;
      assert.equal((await limitedApi.post(CREATE, {}, { token })).status, 200);
      assert.equal((await limitedApi.post(CREATE, {}, { token })).status, 200);
      expectError(await limitedApi.post(CREATE, {}, { token }), 429, 'M_LIMIT_EXCEEDED');
      // That refused create took the third token of the bucket.
      const res = await limitedApi.post(UPLOAD, undefined, { token, rawBody: 'x' });
      expectError(res, 429, 'M_LIMIT_EXCEEDED');
      assertResponseMatchesSpec('POST', UPLOAD, 429, res.body);
    });
  });
});

/** POSTs a stream with backpressure (chunked), answering the status and the body text. */
async function postStream(
  url: string,
  token: string,
  body: AsyncIterable<Buffer>,
): Promise<{ status: number; body: string }> {
  const req = httpRequest(url, {
    // A fresh connection, closed after the answer: nothing keeps the server from closing.
    agent: false,
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
  });
  const answered = new Promise<IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  await pipeline(Readable.from(body), req);
  const res = await answered;
  let text = '';
  for await (const piece of res) text += String(piece);
  return { status: res.statusCode ?? 0, body: text };
}

/** V8's garbage collector, without starting node with --expose-gc. */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

describe('a 50 MB upload', () => {
  let server: TestServer;
  let token: string;
  const SIZE = 50 * 1000 * 1000;

  before(async () => {
    server = await startTestServer();
    token = (await new Api(server.url).register('big')).access_token;
  });
  after(async () => server.close());

  /** The same deterministic bytes on each call, made chunk by chunk. */
  function* chunks(): Generator<Buffer> {
    const block = createHash('sha512').update('weft').digest();
    const chunk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < chunk.length; i += block.length) block.copy(chunk, i);
    for (let sent = 0; sent < SIZE; sent += chunk.length) {
      const piece = Buffer.from(chunk.subarray(0, Math.min(chunk.length, SIZE - sent)));
      piece.writeUInt32BE(sent / chunk.length, 0);
      yield piece;
    }
  }

  /** The chunks, holding back those after `pauseAt` bytes until `resumed`. */
  async function* pausing(pauseAt: number, resumed: Promise<void>): AsyncGenerator<Buffer> {
    let sent = 0;
    for (const piece of chunks()) {
      if (sent >= pauseAt) await resumed;
      sent += piece.length;
      yield piece;
    }
  }

  /** Bytes in the server's temporary upload files: what has reached the disk so far. */
  function bytesOnDisk(): number {
    const tmp = path.join(server.dataDir, 'media', 'tmp');
    return readdirSync(tmp).reduce((sum, name) => sum + statSync(path.join(tmp, name)).size, 0);
  }

  /** JavaScript heap and Buffer memory still in use, garbage collected first. */
  function liveMemory(gc: () => void): number {
    gc();
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  }

  it('is streamed to disk and back, byte for byte, without holding it in memory', async () => {
    const expected = createHash('sha256');
    for (const piece of chunks()) expected.update(piece);
    const expectedHash = expected.digest('hex');

    // RSS in this process also counts the client's garbage and what the allocator keeps
    // for later, so the check is on live memory: the upload is paused at 40 MB, the
    // server must have written it to disk, and the memory still in use must be small.
    const gc = collector();
    const baseline = liveMemory(gc);
    const PAUSE_AT = 40 * 1000 * 1000;
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    // node:http, not fetch: undici keeps every chunk of a streamed request body alive.
    const uploaded = postStream(
      `${server.url}${UPLOAD}?filename=big.bin`,
      token,
      pausing(PAUSE_AT, resumed),
    );
    for (let i = 0; i < 400 && bytesOnDisk() < PAUSE_AT - 2_000_000; i++) await sleep(25);
    const onDisk = bytesOnDisk();
    // The least of a few readings: a collection can miss garbage that the next one finds.
    let held = Infinity;
    for (let i = 0; i < 3; i++, await sleep(20)) held = Math.min(held, liveMemory(gc) - baseline);
    resume();
    assert.ok(onDisk >= PAUSE_AT - 2_000_000, `only ${onDisk} bytes on disk mid-upload`);
    assert.ok(held < 16_000_000, `${Math.round(held / 1e6)} MB held mid-upload`);

    const res = await uploaded;
    const body = JSON.parse(res.body) as Body;
    assert.equal(res.status, 200, res.body);
    const mediaId = mediaIdOf(body.content_uri);
    // node:http again, on its own connection: a kept-alive fetch connection held the
    // server's close for its keep-alive timeout.
    const got = await new Promise<IncomingMessage>((resolve, reject) =>
      httpGet(`${server.url}${AUTHED}/download/localhost/${mediaId}`, {
        agent: false,
        headers: { authorization: `Bearer ${token}` },
      })
        .on('response', resolve)
        .on('error', reject),
    );
    assert.equal(got.headers['content-length'], String(SIZE));
    const actual = createHash('sha256');
    let received = 0;
    for await (const piece of got as AsyncIterable<Buffer>) {
      actual.update(piece);
      received += piece.length;
    }
    assert.equal(received, SIZE);
    assert.equal(actual.digest('hex'), expectedHash);
  });
});
