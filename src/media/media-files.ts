/**
 * The media files under <data_dir>/media: `local/<ab>/<cd>/<id>` for content,
 * `thumbnails/<id>/` for its cached thumbnails, `tmp/` for files being written.
 *
 * Content is streamed to a temporary file (hashed and counted on the way,
 * never held in memory), synced, then renamed into place: a crash leaves at
 * worst a stray temporary file, never a half file under a media ID.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errors } from '../protocol/errors.js';

export interface ReceivedFile {
  tempPath: string;
  size: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
}

/** Hashes and counts what flows through; fails once more than `maxBytes` came. */
class MeteredHash extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      callback(errors.tooLarge(`Cannot upload files larger than ${this.maxBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

export class MediaFiles {
  private readonly tmpDir: string;

  constructor(readonly root: string) {
    this.tmpDir = path.join(root, 'tmp');
    mkdirSync(this.tmpDir, { recursive: true });
  }

  /** Where a media ID's content lives; the ID was checked against `[A-Za-z0-9_-]`. */
  contentPath(mediaId: string): string {
    return path.join(this.root, 'local', mediaId.slice(0, 2), mediaId.slice(2, 4), mediaId);
  }

  thumbnailDir(mediaId: string): string {
    return path.join(this.root, 'thumbnails', mediaId);
  }

  /** A fresh path under tmp/, on the same file system as the final places. */
  tempPath(): string {
    return path.join(this.tmpDir, randomBytes(12).toString('hex'));
  }

  /**
   * Streams `body` to a temporary file. The request stream is piped, not put
   * in the pipeline: when the size limit trips, the request must stay open so
   * that the 413 can still be sent.
   */
  async receive(body: Readable, maxBytes: number): Promise<ReceivedFile> {
    const tempPath = this.tempPath();
    const meter = new MeteredHash(maxBytes);
    const written = pipeline(meter, createWriteStream(tempPath));
    const onBodyError = (err: Error) => meter.destroy(err);
    body.on('error', onBodyError);
    body.pipe(meter);
    try {
      await written;
      await syncFile(tempPath);
    } catch (err) {
      body.unpipe(meter);
      // Discard the rest of the body so that the error response reaches the client.
      body.resume();
      await rm(tempPath, { force: true });
      throw err;
    } finally {
      body.off('error', onBodyError);
    }
    return { tempPath, size: meter.size, sha256: meter.hash.digest('hex') };
  }

  /** Moves a received file into place as the media's content. */
  async commit(tempPath: string, mediaId: string): Promise<void> {
    const target = this.contentPath(mediaId);
    await mkdir(path.dirname(target), { recursive: true });
    await rename(tempPath, target);
  }

  async discard(tempPath: string): Promise<void> {
    await rm(tempPath, { force: true });
  }

  /** The content's size on disk, or undefined if the file is missing. */
  async sizeOf(mediaId: string): Promise<number | undefined> {
    try {
      return (await stat(this.contentPath(mediaId))).size;
    } catch {
      return undefined;
    }
  }

  /** Removes the content and every cached thumbnail of a media ID. */
  async remove(mediaId: string): Promise<void> {
    await rm(this.contentPath(mediaId), { force: true });
    await rm(this.thumbnailDir(mediaId), { recursive: true, force: true });
  }
}

/** The content is on disk before the database says it exists. */
async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
