/**
 * Synapse's media Admin API (server admins only): a room's media, a user's
 * media and statistics, quarantine (one, a room's, a user's), protection,
 * deletion (one, in bulk, a user's). Each effect is checked through the media
 * repository's client endpoints (downloads, thumbnails) and the files on disk.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin/v1';
const UPLOAD = '/_matrix/media/v3/upload';
const AUTHED = '/_matrix/client/v1/media';
const enc = encodeURIComponent;

interface MediaJson {
  media_id: string;
  media_type: string | null;
  media_length: number | null;
  upload_name: string | null;
  created_ts: number;
  last_access_ts: number;
  quarantined_by: string | null;
  safe_from_quarantine: boolean;
}

describe('Admin API: media', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob] = suite.users('root', 'alice', 'bob');
  const as = (session: Session) => ({ token: session.access_token });
  const mxc = (mediaId: string) => `mxc://localhost/${mediaId}`;

  async function upload(who: Session, body: string | Buffer, type = 'text/plain', name = 'f.txt') {
    const res = await api.post(`${UPLOAD}?filename=${enc(name)}`, undefined, {
      token: who.access_token,
      rawBody: body,
      headers: { 'content-type': type },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return String(res.body.content_uri).replace('mxc://localhost/', '');
  }
  const download = async (mediaId: string) =>
    api.get(`${AUTHED}/download/localhost/${mediaId}`, as(alice));
  const thumbnail = async (mediaId: string) =>
    api.get(`${AUTHED}/thumbnail/localhost/${mediaId}?width=32&height=32&method=scale`, as(alice));
  const expectServed = async (mediaId: string) =>
    assert.equal((await download(mediaId)).status, 200, `${mediaId} should be served`);
  const expectRefused = async (mediaId: string) =>
    expectError(await download(mediaId), 404, 'M_NOT_FOUND');
  const admin = (method: string, urlPath: string, body?: unknown) =>
    api.request(method, ADMIN + urlPath, body ?? (method === 'POST' ? {} : undefined), as(root));
  const mediaDir = () => path.join(suite.server.dataDir, 'media');
  const contentFile = (id: string) =>
    path.join(mediaDir(), 'local', id.slice(0, 2), id.slice(2, 4), id);
  const userMedia = async (who: Session, query = '') => {
    const res = await admin('GET', `/users/${enc(who.user_id)}/media${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { media: MediaJson[]; total: number; next_token?: number };
  };
  const png = () =>
    sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366aa' } })
      .png()
      .toBuffer();

  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
  });

  it('refuses every endpoint to non-admins (403 M_FORBIDDEN), changing nothing', async () => {
    const id = await upload(alice, 'kept');
    const roomId = await suite.createRoom(alice);
    const requests: [string, string][] = [
      ['GET', `/room/${roomId}/media`],
      ['GET', `/media/localhost/${id}`],
      ['DELETE', `/media/localhost/${id}`],
      ['POST', `/media/delete?before_ts=${Date.now() + 1000}`],
      ['POST', `/media/localhost/delete?before_ts=${Date.now() + 1000}`],
      ['POST', `/media/quarantine/localhost/${id}`],
      ['POST', `/media/unquarantine/localhost/${id}`],
      ['POST', `/room/${roomId}/media/quarantine`],
      ['POST', `/user/${enc(alice.user_id)}/media/quarantine`],
      ['POST', `/media/protect/${id}`],
      ['POST', `/media/unprotect/${id}`],
      ['GET', '/statistics/users/media'],
      ['GET', `/users/${enc(alice.user_id)}/media`],
      ['DELETE', `/users/${enc(alice.user_id)}/media`],
    ];
    for (const [method, urlPath] of requests) {
      const body = method === 'POST' ? {} : undefined;
      expectError(await api.request(method, ADMIN + urlPath, body, as(bob)), 403, 'M_FORBIDDEN');
    }
    await expectServed(id);
    assert.equal((await admin('DELETE', `/media/localhost/${id}`)).status, 200);
  });

  it("lists a user's media with pages and orders; 404 unknown, 400 remote users", async () => {
    const carol = await api.register('carol');
    const small = await upload(carol, 'a', 'text/plain', 'small.txt');
    const large = await upload(carol, 'a much larger body', 'application/json', 'large.json');
    const middle = await upload(carol, 'middling', 'text/plain', 'mid.txt');
    const all = await userMedia(carol);
    assert.equal(all.total, 3);
    assert.equal(all.next_token, undefined);
    assert.deepEqual(
      all.media.map((m) => m.media_id),
      [small, large, middle],
      'by created_ts, oldest first',
    );
    const first = all.media[0]!;
    assert.equal(first.media_type, 'text/plain');
    assert.equal(first.media_length, 1);
    assert.equal(first.upload_name, 'small.txt');
    assert.equal(first.quarantined_by, null);
    assert.equal(first.safe_from_quarantine, false);
    assert.equal(typeof first.created_ts, 'number');

    const bySize = await userMedia(carol, '?order_by=media_length&dir=b&limit=2');
    assert.deepEqual(
      bySize.media.map((m) => m.media_id),
      [large, middle],
    );
    assert.equal(bySize.total, 3);
    assert.equal(bySize.next_token, 2);
    const rest = await userMedia(carol, '?order_by=media_length&dir=b&limit=2&from=2');
    assert.deepEqual(
      rest.media.map((m) => m.media_id),
      [small],
    );
    assert.equal(rest.next_token, undefined);

    for (const bad of ['?order_by=size', '?dir=x', '?limit=-1', '?from=abc']) {
      expectError(
        await admin('GET', `/users/${enc(carol.user_id)}/media${bad}`),
        400,
        'M_INVALID_PARAM',
      );
    }
    expectError(await admin('GET', `/users/${enc('@ghost:localhost')}/media`), 404, 'M_NOT_FOUND');
    expectError(
      await admin('GET', `/users/${enc('@x:elsewhere.example')}/media`),
      400,
      'M_INVALID_PARAM',
    );
  });

  it("lists a room's media (url and info.thumbnail_url), local and remote", async () => {
    const image = await upload(alice, await png(), 'image/png', 'pic.png');
    const thumb = await upload(alice, 'thumb');
    const roomId = await suite.createRoom(alice);
    const sent = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/media1`,
      {
        msgtype: 'm.image',
        body: 'pic.png',
        url: mxc(image),
        info: { thumbnail_url: mxc(thumb) },
      },
      as(alice),
    );
    assert.equal(sent.status, 200);
    await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/media2`,
      { msgtype: 'm.file', body: 'far', url: 'mxc://elsewhere.example/farAway' },
      as(alice),
    );
    await suite.send(alice, roomId, 'no media here');
    const listed = await admin('GET', `/room/${roomId}/media`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body, {
      local: [mxc(image), mxc(thumb)],
      remote: ['mxc://elsewhere.example/farAway'],
    });
    expectError(await admin('GET', `/room/${enc('!nope:localhost')}/media`), 404, 'M_NOT_FOUND');
  });

  it('quarantines one media: refused on download and thumbnail but kept; unquarantine serves it', async () => {
    const image = await upload(alice, await png(), 'image/png', 'q.png');
    assert.equal((await thumbnail(image)).status, 200);
    const quarantined = await admin('POST', `/media/quarantine/localhost/${image}`);
    assert.equal(quarantined.status, 200);
    assert.deepEqual(quarantined.body, {});
    await expectRefused(image);
    expectError(await thumbnail(image), 404, 'M_NOT_FOUND');
    assert.ok(existsSync(contentFile(image)), 'the file is kept');
    const listed = (await userMedia(alice)).media.find((m) => m.media_id === image);
    assert.equal(listed?.quarantined_by, root.user_id);

    assert.equal((await admin('POST', `/media/unquarantine/localhost/${image}`)).status, 200);
    await expectServed(image);
    assert.equal((await thumbnail(image)).status, 200);
    expectError(
      await admin('POST', '/media/quarantine/localhost/unknownMedia'),
      404,
      'M_NOT_FOUND',
    );
    expectError(
      await admin('POST', `/media/quarantine/elsewhere.example/${image}`),
      404,
      'M_NOT_FOUND',
    );
  });

  it("quarantines a room's and a user's media, leaving protected media alone", async () => {
    const open = await upload(alice, 'open');
    const guarded = await upload(alice, 'guarded');
    const roomId = await suite.createRoom(alice);
    for (const [txn, id] of [
      ['r1', open],
      ['r2', guarded],
    ] as const) {
      await api.put(
        `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/${txn}`,
        { msgtype: 'm.file', body: 'f', url: mxc(id) },
        as(alice),
      );
    }
    assert.deepEqual((await admin('POST', `/media/protect/${guarded}`)).body, {});
    const protectedRow = (await userMedia(alice)).media.find((m) => m.media_id === guarded);
    assert.equal(protectedRow?.safe_from_quarantine, true);

    const room = await admin('POST', `/room/${roomId}/media/quarantine`);
    assert.deepEqual(room.body, { num_quarantined: 1 });
    await expectRefused(open);
    await expectServed(guarded);
    expectError(
      await admin('POST', `/room/${enc('!nope:localhost')}/media/quarantine`),
      404,
      'M_NOT_FOUND',
    );

    // Unprotected, the same media falls to the user's quarantine.
    assert.equal((await admin('POST', `/media/unprotect/${guarded}`)).status, 200);
    const dave = await api.register('dave');
    const daves = [await upload(dave, 'd1'), await upload(dave, 'd2'), await upload(dave, 'd3')];
    await admin('POST', `/media/protect/${daves[2]}`);
    const user = await admin('POST', `/user/${enc(dave.user_id)}/media/quarantine`);
    assert.deepEqual(user.body, { num_quarantined: 2 });
    await expectRefused(daves[0]!);
    await expectRefused(daves[1]!);
    await expectServed(daves[2]!);
    expectError(await admin('POST', '/media/protect/unknownMedia'), 404, 'M_NOT_FOUND');
    expectError(
      await admin('POST', `/user/${enc('@x:elsewhere.example')}/media/quarantine`),
      400,
      'M_INVALID_PARAM',
    );
  });

  it('answers per-user media statistics, filtered, ordered and paged', async () => {
    const erin = await api.register('erin');
    const frank = await api.register('frank');
    const before = Date.now();
    await upload(erin, '12345');
    await upload(erin, '123');
    await upload(frank, '1234567890');
    const stats = async (query: string) => {
      const res = await admin('GET', `/statistics/users/media${query}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body as {
        users: {
          user_id: string;
          displayname: string | null;
          media_count: number;
          media_length: number;
        }[];
        total: number;
        next_token?: number;
      };
    };
    const recent = await stats(`?from_ts=${before}&order_by=media_count&dir=b`);
    assert.equal(recent.total, 2);
    assert.deepEqual(
      recent.users.map((u) => [u.user_id, u.media_count, u.media_length]),
      [
        [erin.user_id, 2, 8],
        [frank.user_id, 1, 10],
      ],
    );
    const byLength = await stats(`?from_ts=${before}&order_by=media_length&dir=b&limit=1`);
    assert.deepEqual(
      byLength.users.map((u) => u.user_id),
      [frank.user_id],
    );
    assert.equal(byLength.next_token, 1);
    const searched = await stats(`?search_term=rank`);
    assert.deepEqual(
      searched.users.map((u) => u.user_id),
      [frank.user_id],
    );
    assert.equal((await stats(`?until_ts=${before - 1}&search_term=erin`)).total, 0);
    for (const bad of ['?order_by=nope', '?dir=up', '?from_ts=-5', `?from_ts=10&until_ts=5`]) {
      expectError(await admin('GET', `/statistics/users/media${bad}`), 400, 'M_INVALID_PARAM');
    }
  });

  it('deletes one media: files and thumbnails gone, downloads 404', async () => {
    const image = await upload(alice, await png(), 'image/png', 'gone.png');
    assert.equal((await thumbnail(image)).status, 200);
    const info = await admin('GET', `/media/localhost/${image}`);
    assert.equal(info.status, 200);
    const details = info.body.media_info as Record<string, unknown>;
    assert.equal(details.media_origin, 'localhost');
    assert.equal(details.user_id, alice.user_id);
    assert.equal(details.media_id, image);
    assert.equal(details.media_type, 'image/png');
    assert.equal(details.upload_name, 'gone.png');
    assert.equal(details.safe_from_quarantine, false);
    const thumbDir = path.join(mediaDir(), 'thumbnails', image);
    assert.ok(existsSync(contentFile(image)) && existsSync(thumbDir));
    const deleted = await admin('DELETE', `/media/localhost/${image}`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(deleted.body, { deleted_media: [image], total: 1 });
    await expectRefused(image);
    expectError(await thumbnail(image), 404, 'M_NOT_FOUND');
    assert.equal(existsSync(contentFile(image)), false);
    assert.equal(existsSync(thumbDir), false);
    expectError(await admin('DELETE', `/media/localhost/${image}`), 404, 'M_NOT_FOUND');
    expectError(await admin('GET', `/media/localhost/${image}`), 404, 'M_NOT_FOUND');
    expectError(await admin('DELETE', `/media/elsewhere.example/${image}`), 400, 'M_INVALID_PARAM');
  });

  it('deletes in bulk by age and size, keeping protected media and (by default) avatars', async () => {
    const gina = await api.register('gina');
    const avatar = await upload(gina, 'avatar bytes');
    const guarded = await upload(gina, 'protected bytes');
    const tiny = await upload(gina, 'x');
    const plain = await upload(gina, 'plain bytes');
    const profile = await api.put(
      `${CLIENT_V3}/profile/${enc(gina.user_id)}/avatar_url`,
      { avatar_url: mxc(avatar) },
      as(gina),
    );
    assert.equal(profile.status, 200);
    await admin('POST', `/media/protect/${guarded}`);
    const cutoff = Date.now() + 1;
    const later = await upload(gina, 'uploaded after the cutoff');
    await new Promise((resolve) => setTimeout(resolve, 5));

    expectError(await admin('POST', '/media/delete'), 400, 'M_MISSING_PARAM');
    expectError(await admin('POST', '/media/delete?before_ts=soon'), 400, 'M_INVALID_PARAM');
    expectError(
      await admin('POST', `/media/delete?before_ts=${cutoff}&keep_profiles=maybe`),
      400,
      'M_INVALID_PARAM',
    );
    expectError(
      await admin('POST', `/media/elsewhere.example/delete?before_ts=${cutoff}`),
      400,
      'M_INVALID_PARAM',
    );

    const bySize = await admin('POST', `/media/delete?before_ts=${cutoff}&size_gt=1`);
    assert.equal(bySize.status, 200, JSON.stringify(bySize.body));
    const deleted = bySize.body.deleted_media as string[];
    assert.ok(deleted.includes(plain));
    for (const kept of [avatar, guarded, tiny, later]) assert.ok(!deleted.includes(kept), kept);
    assert.equal(bySize.body.total, deleted.length);
    await expectRefused(plain);
    await expectServed(tiny);
    await expectServed(avatar);

    // The older path, and keep_profiles=false: the avatar goes too.
    const all = await admin(
      'POST',
      `/media/localhost/delete?before_ts=${cutoff}&keep_profiles=false`,
    );
    const deletedNow = all.body.deleted_media as string[];
    assert.ok(deletedNow.includes(avatar) && deletedNow.includes(tiny));
    assert.ok(!deletedNow.includes(guarded) && !deletedNow.includes(later));
    await expectRefused(avatar);
    await expectServed(guarded);
    await expectServed(later);
  });

  it("DELETE users/{userId}/media deletes the user's media", async () => {
    const hank = await api.register('hank');
    const ids = [await upload(hank, 'h1'), await upload(hank, 'h2'), await upload(hank, 'h3')];
    const firstPage = await admin('DELETE', `/users/${enc(hank.user_id)}/media?limit=2`);
    assert.equal(firstPage.status, 200);
    assert.deepEqual(firstPage.body, { deleted_media: ids.slice(0, 2), total: 2 });
    await expectRefused(ids[0]!);
    await expectServed(ids[2]!);
    const rest = await admin('DELETE', `/users/${enc(hank.user_id)}/media`);
    assert.deepEqual(rest.body, { deleted_media: [ids[2]], total: 1 });
    assert.equal((await userMedia(hank)).total, 0);
    expectError(
      await admin('DELETE', `/users/${enc('@ghost:localhost')}/media`),
      404,
      'M_NOT_FOUND',
    );
  });
});
