/**
 * GET /_matrix/client/v1/media/preview_url (authenticated media) and the legacy
 * /_matrix/media/{v3,r0,v1}/preview_url (Synapse serves v1 too): the OpenGraph
 * data of a URL, from the URL preview service.
 */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { UrlPreviewService } from '../../media/url-preview-service.js';

const LEGACY_VERSIONS = ['v3', 'r0', 'v1'];

export function registerUrlPreviewRoutes(router: Router, previews: UrlPreviewService): void {
  const preview = async (request: FastifyRequest) => {
    const { userId } = ownerOf(request);
    // Synapse checks the token first, then answers 404 M_UNRECOGNIZED while
    // previews are off (403 M_FORBIDDEN only behind its experimental MSC4452 flag).
    if (!previews.enabled) throw errors.unrecognized();
    const url = queryString(request.query, 'url');
    if (url === undefined || url === '') throw errors.missingParam('url');
    return previews.preview(userId, url, timestampOf(request.query));
  };
  // Not for guests: the spec's guest access module does not list it, nor does Synapse allow it.
  router.v1('GET', '/media/preview_url', { auth: 'required' }, preview);
  for (const version of LEGACY_VERSIONS) {
    router.route('GET', `/_matrix/media/${version}/preview_url`, { auth: 'required' }, preview);
  }
}

/** `ts`, the point in time asked for: now when absent. */
function timestampOf(query: unknown): number {
  const value = queryString(query, 'ts');
  if (value === undefined) return Date.now();
  const ts = /^\d{1,16}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(ts))
    throw errors.invalidParam('ts must be a timestamp in milliseconds');
  return ts;
}
