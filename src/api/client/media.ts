/**
 * The content repository: uploads under /_matrix/media (the body streamed raw
 * to the media service), authenticated downloads and thumbnails under
 * /_matrix/client/v1/media, and the legacy unauthenticated /_matrix/media/{v3,r0}
 * downloads and thumbnails, which serve only media from before the freeze.
 *
 * preview_url has a file of its own (url-preview.ts): it fetches remote pages.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import {
  MEDIA_SECURITY_HEADERS,
  contentDisposition,
  downloadDisposition,
  parseRange,
  uploadContentType,
} from '../../media/headers.js';
import type { MediaService, ReadOptions, UploadInput } from '../../media/media-service.js';
import type { ThumbnailMethod } from '../../media/thumbnail-plan.js';
import type { ThumbnailRequest } from '../../media/thumbnailer.js';

interface MediaParams {
  serverName: string;
  mediaId: string;
  fileName?: string;
}

const MEDIA = '/_matrix/media';
const MEDIA_V1 = '/media';
const LEGACY_VERSIONS = ['v3', 'r0'];
const DEFAULT_TIMEOUT_MS = 20_000;
const MAX_FILE_NAME_LENGTH = 1024;

/** Routes whose body is the raw upload stream (registered in a raw-body scope). */
export function registerMediaUploadRoutes(router: Router, media: MediaService): void {
  const upload = async (request: FastifyRequest) => {
    const uri = await media.upload(ownerOf(request).userId, uploadInput(request));
    return { content_uri: uri };
  };
  for (const version of LEGACY_VERSIONS) {
    router.route('POST', `${MEDIA}/${version}/upload`, { auth: 'required' }, upload);
  }
  router.route(
    'PUT',
    `${MEDIA}/v3/upload/:serverName/:mediaId`,
    { auth: 'required' },
    async (request) => {
      const { serverName, mediaId } = request.params as MediaParams;
      await media.uploadPending(ownerOf(request).userId, serverName, mediaId, uploadInput(request));
      return {};
    },
  );
}

/** Every other media route (JSON bodies, if any). */
export function registerMediaRoutes(router: Router, media: MediaService): void {
  router.route('POST', `${MEDIA}/v1/create`, { auth: 'required' }, async (request) => {
    const { mediaId, unusedExpiresTs } = await media.createPending(ownerOf(request).userId);
    return { content_uri: media.mxcUri(mediaId), unused_expires_at: unusedExpiresTs };
  });

  const config = async () => ({ 'm.upload.size': media.maxUploadBytes });
  const download = downloadHandler(media, false);
  const thumbnail = thumbnailHandler(media, false);
  const authed = { auth: 'required', guest: true } as const;
  router.v1('GET', `${MEDIA_V1}/config`, authed, config);
  router.v1('GET', `${MEDIA_V1}/download/:serverName/:mediaId`, authed, download);
  router.v1('GET', `${MEDIA_V1}/download/:serverName/:mediaId/:fileName`, authed, download);
  router.v1('GET', `${MEDIA_V1}/thumbnail/:serverName/:mediaId`, authed, thumbnail);

  const legacyDownload = downloadHandler(media, true);
  const legacyThumbnail = thumbnailHandler(media, true);
  for (const version of LEGACY_VERSIONS) {
    const base = `${MEDIA}/${version}`;
    router.route('GET', `${base}/config`, { auth: 'required' }, config);
    router.route('GET', `${base}/download/:serverName/:mediaId`, { auth: 'none' }, legacyDownload);
    router.route(
      'GET',
      `${base}/download/:serverName/:mediaId/:fileName`,
      { auth: 'none' },
      legacyDownload,
    );
    router.route(
      'GET',
      `${base}/thumbnail/:serverName/:mediaId`,
      { auth: 'none' },
      legacyThumbnail,
    );
  }
}

function uploadInput(request: FastifyRequest): UploadInput {
  const fileName = queryString(request.query, 'filename') ?? null;
  if (fileName !== null && fileName.length > MAX_FILE_NAME_LENGTH) {
    throw errors.invalidParam('filename is too long');
  }
  const lengthHeader = request.headers['content-length'];
  // No body at all (Content-Length: 0) reaches the handler without a stream.
  const body = (request.body as Readable | undefined) ?? Readable.from([]);
  return {
    body,
    declaredLength: lengthHeader === undefined ? undefined : Number(lengthHeader),
    contentType: uploadContentType(request.headers['content-type']),
    fileName,
  };
}

function downloadHandler(media: MediaService, legacy: boolean) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { serverName, mediaId, fileName } = request.params as MediaParams;
    reply.headers(MEDIA_SECURITY_HEADERS);
    const stored = await media.read(serverName, mediaId, readOptions(request, legacy));
    const { contentType, size } = stored.upload;
    reply.headers({
      'content-type': contentType,
      'content-disposition': downloadDisposition(contentType, fileName ?? stored.upload.fileName),
      'accept-ranges': 'bytes',
    });
    return sendFile(request, reply, stored.file, size);
  };
}

function thumbnailHandler(media: MediaService, legacy: boolean) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const { serverName, mediaId } = request.params as MediaParams;
    reply.headers(MEDIA_SECURITY_HEADERS);
    const wanted = thumbnailRequest(request.query);
    const thumbnail = await media.thumbnail(
      serverName,
      mediaId,
      wanted,
      readOptions(request, legacy),
    );
    const extension = thumbnail.contentType.split('/')[1];
    reply.headers({
      'content-type': thumbnail.contentType,
      'content-disposition': contentDisposition('inline', `thumbnail.${extension}`),
    });
    return reply.send(createReadStream(thumbnail.file));
  };
}

/** The whole file, or the one byte range asked for (206), or 416. */
function sendFile(request: FastifyRequest, reply: FastifyReply, file: string, size: number) {
  const range = parseRange(request.headers.range, size);
  if (range === 'unsatisfiable') {
    return reply.code(416).header('content-range', `bytes */${size}`).send();
  }
  if (range === undefined) {
    reply.header('content-length', size);
    return reply.send(size === 0 ? '' : createReadStream(file));
  }
  reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
    .header('content-length', range.end - range.start + 1);
  return reply.send(createReadStream(file, range));
}

function readOptions(request: FastifyRequest, legacy: boolean): ReadOptions {
  const timeoutMs = queryInteger(request.query, 'timeout_ms') ?? DEFAULT_TIMEOUT_MS;
  if (timeoutMs < 0) throw errors.invalidParam('timeout_ms must not be negative');
  return { timeoutMs, legacy };
}

function thumbnailRequest(query: unknown): ThumbnailRequest {
  const width = queryInteger(query, 'width');
  const height = queryInteger(query, 'height');
  if (width === undefined) throw errors.missingParam('width');
  if (height === undefined) throw errors.missingParam('height');
  if (width < 1 || height < 1) throw errors.invalidParam('width and height must be positive');
  const method = queryString(query, 'method') ?? 'scale';
  if (method !== 'scale' && method !== 'crop') {
    throw errors.invalidParam("method must be 'scale' or 'crop'");
  }
  const animated = queryString(query, 'animated');
  if (animated !== undefined && animated !== 'true' && animated !== 'false') {
    throw errors.invalidParam('animated must be true or false');
  }
  return { width, height, method: method as ThumbnailMethod, animated: animated === 'true' };
}

function queryInteger(query: unknown, key: string): number | undefined {
  const value = queryString(query, key);
  if (value === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(value)) throw errors.invalidParam(`${key} must be an integer`);
  return Number(value);
}
