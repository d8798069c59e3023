import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { defaultConfig } from '../../src/config/config.js';
import { MatrixError } from '../../src/protocol/errors.js';
import { buildMediaService } from '../../src/media/build.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

describe('media service admin hooks and lapsed IDs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-media-'));
  const config = { ...defaultConfig(), data_dir: dir };
  const storage = openSqliteStorage(path.join(dir, 'weft.db'));
  const media = buildMediaService(config, storage, pino({ level: 'silent' }));
  after(async () => {
    await media.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const upload = async () => {
    const uri = await media.upload('@a:localhost', {
      body: Readable.from([Buffer.from('secret')]),
      declaredLength: 6,
      contentType: 'text/plain',
      fileName: null,
    });
    return uri.split('/').pop()!;
  };
  const read = (mediaId: string) =>
    media.read('localhost', mediaId, { timeoutMs: 0, legacy: false });
  const isNotFound = (err: unknown) => err instanceof MatrixError && err.status === 404;

  it('quarantine hides media from everyone until lifted', async () => {
    const mediaId = await upload();
    assert.equal((await read(mediaId)).upload.size, 6);
    assert.equal(await media.setQuarantined(mediaId, true), true);
    await assert.rejects(read(mediaId), isNotFound);
    assert.equal(await media.setQuarantined(mediaId, false), true);
    assert.equal((await read(mediaId)).upload.sha256.length, 64);
    assert.equal(await media.setQuarantined('unknown', true), false);
  });

  it('creating a media ID deletes the IDs of its user that lapsed over a day ago', async () => {
    const day = 24 * 60 * 60 * 1000;
    const pending = (mediaId: string, userId: string, lapsedAgo: number) =>
      storage.media.create({
        mediaId,
        userId,
        createdTs: 0,
        unusedExpiresTs: Date.now() - lapsedAgo,
        upload: null,
        authenticated: true,
        quarantined: false,
      });
    await pending('lapsedLongAgo', '@a:localhost', 2 * day);
    await pending('lapsedJustNow', '@a:localhost', 60_000);
    await pending('othersLapsed', '@b:localhost', 2 * day);
    await media.createPending('@a:localhost');
    assert.equal(await storage.media.get('lapsedLongAgo'), undefined);
    assert.ok(await storage.media.get('lapsedJustNow'));
    assert.ok(await storage.media.get('othersLapsed'));
    await assert.rejects(read('lapsedJustNow'), isNotFound);
  });

  it('deletion removes the row and the file', async () => {
    const mediaId = await upload();
    const file = (await read(mediaId)).file;
    assert.ok(existsSync(file));
    assert.equal(await media.delete(mediaId), true);
    assert.equal(existsSync(file), false);
    await assert.rejects(read(mediaId), isNotFound);
    assert.equal(await media.delete(mediaId), false);
  });
});
