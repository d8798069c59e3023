/**
 * matrix-js-sdk@37.5.0 and the media repository: `uploadContent`, then the file
 * fetched through the SDK's authenticated media URL (`/_matrix/client/v1/media`)
 * with the access token, byte for byte; a thumbnail URL for an image as well.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { sdkSuite } from '../support/sdk.js';

describe('matrix-js-sdk and media', { timeout: 30_000 }, () => {
  const suite = sdkSuite();
  const { clients } = suite;

  const fetchWithToken = async (url: string, token: string) => {
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    return {
      status: response.status,
      headers: response.headers,
      body: Buffer.from(await response.arrayBuffer()),
    };
  };

  it('uploads with uploadContent and downloads through the authenticated media URL', async () => {
    const alice = await suite.register('sdkmedia');
    const client = clients.create(alice);
    const bytes = Buffer.from('A small file, uploaded by the SDK.\n', 'utf8');
    const upload = await client.uploadContent(bytes, { name: 'note.txt', type: 'text/plain' });
    assert.match(upload.content_uri, /^mxc:\/\/localhost\/[A-Za-z0-9_-]+$/);

    const url = client.mxcUrlToHttp(
      upload.content_uri,
      undefined,
      undefined,
      undefined,
      false,
      true,
      true,
    );
    assert.ok(url?.includes('/_matrix/client/v1/media/download/'), `authenticated URL: ${url}`);
    const download = await fetchWithToken(url!, alice.access_token);
    assert.equal(download.status, 200);
    assert.deepEqual(download.body, bytes);
    assert.equal(download.headers.get('content-type'), 'text/plain');

    const withoutToken = await fetch(url!);
    assert.equal(withoutToken.status, 401, 'authenticated media needs the token');
  });

  it('serves a thumbnail of an uploaded image through the SDK’s thumbnail URL', async () => {
    const bob = await suite.register('sdkthumbs');
    const client = clients.create(bob);
    const png = await sharp({
      create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 40, b: 90 } },
    })
      .png()
      .toBuffer();
    const upload = await client.uploadContent(png, { name: 'red.png', type: 'image/png' });
    const url = client.mxcUrlToHttp(upload.content_uri, 96, 96, 'crop', false, true, true);
    assert.ok(url?.includes('/_matrix/client/v1/media/thumbnail/'), `thumbnail URL: ${url}`);
    const thumbnail = await fetchWithToken(url!, bob.access_token);
    assert.equal(thumbnail.status, 200);
    const meta = await sharp(thumbnail.body).metadata();
    assert.equal(meta.width, 96);
    assert.equal(meta.height, 96);
  });
});
