/**
 * The media repository: uploads (direct, or an ID first and the content later),
 * local downloads with the wait for pending content, thumbnails, and the
 * quarantine and deletion hooks the admin API will use.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { MediaConfig } from '../config/config.js';
import { MatrixError, errors } from '../protocol/errors.js';
import type { RateLimiter } from '../auth/rate-limit.js';
import type { MediaRecord, MediaStore, MediaUpload } from '../storage/storage.js';
import { mediaTypeEssence } from './headers.js';
import type { MediaFiles } from './media-files.js';
import { PRESET_THUMBNAILS, THUMBNAIL_SOURCE_TYPES } from './thumbnail-plan.js';
import {
  cannotThumbnail,
  tooLargeToThumbnail,
  type ThumbnailFile,
  type ThumbnailRequest,
  type Thumbnailer,
} from './thumbnailer.js';

const MEDIA_ID = /^[A-Za-z0-9_-]+$/;
/** How long after lapsing an unused media ID's row is kept (see `createPending`). */
const LAPSED_ID_GRACE_MS = 24 * 60 * 60 * 1000;

/** 24 characters of [A-Za-z0-9_-]: 144 random bits. */
export function generateMediaId(): string {
  return randomBytes(18).toString('base64url');
}

export const mediaErrors = {
  cannotOverwrite: () => new MatrixError(409, 'M_CANNOT_OVERWRITE_MEDIA', 'Media already uploaded'),
  notYetUploaded: () =>
    new MatrixError(504, 'M_NOT_YET_UPLOADED', 'Content has not yet been uploaded'),
  notFound: () => errors.notFound('Media not found'),
};

export interface UploadInput {
  body: Readable;
  /** The Content-Length the client declared, if any. */
  declaredLength: number | undefined;
  contentType: string;
  fileName: string | null;
}

export interface ReadOptions {
  /** How long to wait for content still being uploaded. */
  timeoutMs: number;
  /** Through the legacy unauthenticated endpoints (frozen media is not found there). */
  legacy: boolean;
}

/** Local media with content, ready to serve. */
export interface StoredMedia {
  mediaId: string;
  file: string;
  upload: MediaUpload;
}

export interface MediaServiceDeps {
  serverName: string;
  config: MediaConfig;
  store: MediaStore;
  files: MediaFiles;
  thumbnailer: Thumbnailer;
  /** Uploads and creates per user. */
  uploadLimiter: RateLimiter;
  logger: Logger;
  now?: () => number;
}

export class MediaService {
  /** Readers waiting for pending media, by media ID. */
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Pending IDs whose content is being received: a second upload is refused at once. */
  private readonly receiving = new Set<string>();
  /** Background thumbnail work, awaited on close. */
  private readonly background = new Set<Promise<void>>();
  private readonly now: () => number;

  constructor(private readonly deps: MediaServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  get maxUploadBytes(): number {
    return this.deps.config.max_upload_bytes;
  }

  mxcUri(mediaId: string): string {
    return `mxc://${this.deps.serverName}/${mediaId}`;
  }

  /** POST /upload: stores the content under a new media ID. */
  async upload(userId: string, input: UploadInput): Promise<string> {
    this.deps.uploadLimiter.take(userId);
    return this.storeContent(userId, input);
  }

  /**
   * Stores content the server fetched on a user's behalf (URL previews' images),
   * owned by that user as in Synapse; the user's upload rate limit does not apply.
   */
  storeFetched(userId: string, input: UploadInput): Promise<string> {
    return this.storeContent(userId, input);
  }

  private async storeContent(userId: string, input: UploadInput): Promise<string> {
    this.checkDeclaredLength(input.declaredLength);
    const received = await this.deps.files.receive(input.body, this.maxUploadBytes);
    const mediaId = generateMediaId();
    await this.deps.files.commit(received.tempPath, mediaId);
    const upload = this.uploadRecord(input, received);
    await this.deps.store.create({
      mediaId,
      userId,
      createdTs: upload.uploadTs,
      unusedExpiresTs: null,
      upload,
      authenticated: this.deps.config.freeze_unauthenticated_media,
      quarantined: false,
    });
    this.afterUpload(mediaId, upload);
    return this.mxcUri(mediaId);
  }

  /** POST /media/v1/create: a media ID whose content comes later. */
  async createPending(userId: string): Promise<{ mediaId: string; unusedExpiresTs: number }> {
    this.deps.uploadLimiter.take(userId);
    const now = this.now();
    // Lapsed IDs answer 404 like unknown ones: their rows can go. A day late, so an
    // upload that began before its ID lapsed still finds the row when it completes.
    await this.deps.store.deleteLapsed(userId, now - LAPSED_ID_GRACE_MS);
    const pending = await this.deps.store.countPending(userId, now);
    if (pending >= this.deps.config.max_pending_uploads_per_user) {
      throw new MatrixError(429, 'M_LIMIT_EXCEEDED', 'Too many pending media uploads');
    }
    const mediaId = generateMediaId();
    const unusedExpiresTs = now + this.deps.config.unused_expires_after_ms;
    await this.deps.store.create({
      mediaId,
      userId,
      createdTs: now,
      unusedExpiresTs,
      upload: null,
      authenticated: this.deps.config.freeze_unauthenticated_media,
      quarantined: false,
    });
    return { mediaId, unusedExpiresTs };
  }

  /** PUT /upload/{serverName}/{mediaId}: the content of an ID from createPending. */
  async uploadPending(
    userId: string,
    serverName: string,
    mediaId: string,
    input: UploadInput,
  ): Promise<void> {
    const record = await this.localRecord(serverName, mediaId);
    if (!record) throw errors.notFound('Unknown media ID');
    if (record.userId !== userId) throw errors.forbidden('You may not upload to this media ID');
    if (record.upload || this.receiving.has(mediaId)) throw mediaErrors.cannotOverwrite();
    if (this.hasLapsed(record)) throw errors.notFound('Unknown media ID');
    this.deps.uploadLimiter.take(userId);
    this.checkDeclaredLength(input.declaredLength);
    this.receiving.add(mediaId);
    try {
      const received = await this.deps.files.receive(input.body, this.maxUploadBytes);
      const upload = this.uploadRecord(input, received);
      await this.deps.files.commit(received.tempPath, mediaId);
      if (!(await this.deps.store.completeUpload(mediaId, upload))) {
        throw mediaErrors.cannotOverwrite();
      }
      this.afterUpload(mediaId, upload);
    } finally {
      this.receiving.delete(mediaId);
    }
  }

  /** Local media with its content, waiting up to `timeoutMs` for a pending upload. */
  async read(serverName: string, mediaId: string, options: ReadOptions): Promise<StoredMedia> {
    const deadline =
      this.now() + Math.min(options.timeoutMs, this.deps.config.max_download_wait_ms);
    for (;;) {
      const record = await this.localRecord(serverName, mediaId);
      if (!record || record.quarantined || (options.legacy && record.authenticated)) {
        throw mediaErrors.notFound();
      }
      if (record.upload) {
        return { mediaId, file: this.deps.files.contentPath(mediaId), upload: record.upload };
      }
      if (this.hasLapsed(record)) throw mediaErrors.notFound();
      const remaining = deadline - this.now();
      if (remaining <= 0) throw mediaErrors.notYetUploaded();
      await this.waitForUpload(mediaId, remaining);
    }
  }

  async thumbnail(
    serverName: string,
    mediaId: string,
    request: ThumbnailRequest,
    options: ReadOptions,
  ): Promise<ThumbnailFile> {
    const media = await this.read(serverName, mediaId, options);
    const sourceType = mediaTypeEssence(media.upload.contentType);
    if (!THUMBNAIL_SOURCE_TYPES.has(sourceType)) throw cannotThumbnail();
    if (media.upload.size > this.deps.config.max_thumbnail_source_bytes) {
      throw tooLargeToThumbnail();
    }
    return this.deps.thumbnailer.thumbnail(
      {
        mediaId,
        file: media.file,
        contentType: sourceType,
        thumbnailDir: this.deps.files.thumbnailDir(mediaId),
      },
      request,
    );
  }

  /** Admin hook: quarantined media is served to nobody (404) but kept. False if unknown. */
  async setQuarantined(mediaId: string, quarantined: boolean): Promise<boolean> {
    if (!MEDIA_ID.test(mediaId)) return false;
    return this.deps.store.setQuarantined(mediaId, quarantined);
  }

  /** Admin hook: removes the media's row, content and thumbnails. False if unknown. */
  async delete(mediaId: string): Promise<boolean> {
    if (!MEDIA_ID.test(mediaId)) return false;
    const existed = await this.deps.store.delete(mediaId);
    // The row goes first: nothing is served from a file that is being removed.
    await this.deps.files.remove(mediaId);
    return existed;
  }

  /** Waits for the thumbnails still being made in the background. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  private async localRecord(serverName: string, mediaId: string): Promise<MediaRecord | undefined> {
    // Remote media needs federation; an ID outside the grammar was never issued here.
    if (serverName !== this.deps.serverName || !MEDIA_ID.test(mediaId)) return undefined;
    return this.deps.store.get(mediaId);
  }

  private hasLapsed(record: MediaRecord): boolean {
    return record.unusedExpiresTs !== null && record.unusedExpiresTs <= this.now();
  }

  private checkDeclaredLength(declared: number | undefined): void {
    if (declared !== undefined && declared > this.maxUploadBytes) {
      throw errors.tooLarge(`Cannot upload files larger than ${this.maxUploadBytes} bytes`);
    }
  }

  private uploadRecord(
    input: UploadInput,
    received: { size: number; sha256: string },
  ): MediaUpload {
    return {
      uploadTs: this.now(),
      contentType: input.contentType,
      fileName: input.fileName,
      size: received.size,
      sha256: received.sha256,
    };
  }

  private waitForUpload(mediaId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.waiters.get(mediaId) ?? new Set<() => void>();
      this.waiters.set(mediaId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.waiters.delete(mediaId);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      waiters.add(done);
    });
  }

  /** Wakes the readers waiting for this media, and starts its preset thumbnails. */
  private afterUpload(mediaId: string, upload: MediaUpload): void {
    for (const wake of [...(this.waiters.get(mediaId) ?? [])]) wake();
    if (!THUMBNAIL_SOURCE_TYPES.has(mediaTypeEssence(upload.contentType))) return;
    if (upload.size > this.deps.config.max_thumbnail_source_bytes) return;
    const work = this.pregenerate(mediaId, upload).finally(() => this.background.delete(work));
    this.background.add(work);
  }

  /** The spec's usual sizes, one after the other so that uploads do not flood the CPU. */
  private async pregenerate(mediaId: string, upload: MediaUpload): Promise<void> {
    const source = {
      mediaId,
      file: this.deps.files.contentPath(mediaId),
      contentType: mediaTypeEssence(upload.contentType),
      thumbnailDir: this.deps.files.thumbnailDir(mediaId),
    };
    for (const preset of PRESET_THUMBNAILS) {
      try {
        await this.deps.thumbnailer.thumbnail(source, { ...preset, animated: false });
      } catch (err) {
        // Not an image after all, or too large: requests will get the same error.
        this.deps.logger.debug({ err, mediaId }, 'no preset thumbnail');
        return;
      }
    }
  }
}
