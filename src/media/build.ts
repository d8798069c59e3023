/** Builds the media repository from the config: files under <data_dir>/media. */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { RateLimiter } from '../auth/rate-limit.js';
import type { Storage } from '../storage/storage.js';
import { MediaFiles } from './media-files.js';
import { MediaService } from './media-service.js';
import { Thumbnailer } from './thumbnailer.js';

/** The media repository's own store. */
export type MediaStorage = Pick<Storage, 'media'>;

export function buildMediaService(
  config: Config,
  storage: MediaStorage,
  logger: Logger,
): MediaService {
  const files = new MediaFiles(path.join(config.data_dir, 'media'));
  return new MediaService({
    serverName: config.server_name,
    config: config.media,
    store: storage.media,
    files,
    thumbnailer: new Thumbnailer(config.media.max_thumbnail_source_pixels, () => files.tempPath()),
    uploadLimiter: new RateLimiter(
      config.rate_limits.media_upload_per_user,
      config.rate_limits.enabled,
    ),
    logger,
  });
}
