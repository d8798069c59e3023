/**
 * The rules of Synapse's media Admin API that need no storage: reading MXC
 * URIs and the query parameters of the lists, statistics and bulk deletion,
 * and the objects answered. Pure. Synapse's media_admin_api.md and
 * user_admin_api.md are the model (the spec has no media administration).
 */
import type {
  AdminMediaRecord,
  BulkDeleteQuery,
  MediaStatisticsOrder,
  MediaStatisticsQuery,
  PageQuery,
  UserMediaOrder,
  UserMediaStatistics,
} from '../domain/media-admin.js';
import { errors } from '../protocol/errors.js';
import { queryString } from '../protocol/params.js';
import { booleanParam, nonNegativeIntegerParam } from './admin-rules.js';

export const DEFAULT_MEDIA_LIST_LIMIT = 100;

const USER_MEDIA_ORDERS: readonly UserMediaOrder[] = [
  'media_id',
  'upload_name',
  'created_ts',
  'last_access_ts',
  'media_length',
  'media_type',
  'quarantined_by',
  'safe_from_quarantine',
];

const STATISTICS_ORDERS: readonly MediaStatisticsOrder[] = [
  'user_id',
  'displayname',
  'media_length',
  'media_count',
];

/** `mxc://<server>/<media ID>`; undefined for anything else. */
export function parseMxc(uri: string): { serverName: string; mediaId: string } | undefined {
  const match = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(uri);
  return match ? { serverName: match[1]!, mediaId: match[2]! } : undefined;
}

/** The room's media split as Synapse answers it: this server's and others'. Each URI once. */
export function splitRoomMedia(
  urls: readonly string[],
  serverName: string,
): { local: string[]; remote: string[] } {
  const local = new Set<string>();
  const remote = new Set<string>();
  for (const url of urls) {
    const mxc = parseMxc(url);
    if (!mxc) continue;
    (mxc.serverName === serverName ? local : remote).add(url);
  }
  return { local: [...local], remote: [...remote] };
}

/** The local media IDs among `urls` (room media, avatars). */
export function localMediaIds(urls: readonly string[], serverName: string): string[] {
  return splitRoomMedia(urls, serverName).local.map((url) => parseMxc(url)!.mediaId);
}

function page<O extends string>(
  query: unknown,
  orders: readonly O[],
  defaultOrder: O,
): PageQuery<O> {
  const from = nonNegativeIntegerParam(query, 'from', 0);
  const limit = nonNegativeIntegerParam(query, 'limit', DEFAULT_MEDIA_LIST_LIMIT);
  const orderBy = queryString(query, 'order_by') ?? defaultOrder;
  if (!(orders as readonly string[]).includes(orderBy)) {
    throw errors.invalidParam(`Unknown value for order_by: ${orderBy}`);
  }
  const dir = queryString(query, 'dir') ?? 'f';
  if (dir !== 'f' && dir !== 'b') throw errors.invalidParam('dir must be f or b');
  return { from, limit, orderBy: orderBy as O, dir };
}

/** `GET|DELETE /v1/users/{userId}/media`: from, limit, order_by (created_ts), dir. */
export function parseUserMediaQuery(query: unknown): PageQuery<UserMediaOrder> {
  return page(query, USER_MEDIA_ORDERS, 'created_ts');
}

/** `GET /v1/statistics/users/media`: the page, the upload time range and a search term. */
export function parseStatisticsQuery(query: unknown): MediaStatisticsQuery {
  const fromTs = nonNegativeIntegerParam(query, 'from_ts', 0);
  const untilTs =
    queryString(query, 'until_ts') === undefined
      ? null
      : nonNegativeIntegerParam(query, 'until_ts', 0);
  if (untilTs !== null && untilTs < fromTs) {
    throw errors.invalidParam('until_ts must not be before from_ts');
  }
  const searchTerm = queryString(query, 'search_term') ?? null;
  if (searchTerm === '') throw errors.invalidParam('search_term must not be empty');
  return {
    ...page(query, STATISTICS_ORDERS, 'media_length'),
    fromTs,
    untilTs,
    searchTerm,
  };
}

/** `POST /v1/media/delete`: before_ts (required), size_gt (0), keep_profiles (true). */
export function parseBulkDelete(query: unknown): BulkDeleteQuery & { keepProfiles: boolean } {
  if (queryString(query, 'before_ts') === undefined) throw errors.missingParam('before_ts');
  return {
    beforeTs: nonNegativeIntegerParam(query, 'before_ts', 0),
    sizeGt: nonNegativeIntegerParam(query, 'size_gt', 0),
    keepProfiles: booleanParam(query, 'keep_profiles') ?? true,
  };
}

/** A media object of the user media list, as Synapse's. */
export function adminMediaJson(media: AdminMediaRecord): Record<string, unknown> {
  return {
    media_id: media.mediaId,
    media_type: media.contentType,
    media_length: media.size,
    upload_name: media.fileName,
    created_ts: media.createdTs,
    // Weft does not record accesses (a write per download): the upload time stands in.
    last_access_ts: media.createdTs,
    quarantined_by: media.quarantinedBy,
    safe_from_quarantine: media.safeFromQuarantine,
  };
}

export function statisticsJson(user: UserMediaStatistics): Record<string, unknown> {
  return {
    user_id: user.userId,
    displayname: user.displayname,
    media_count: user.mediaCount,
    media_length: user.mediaLength,
  };
}

/** A page's answer: `next_token` only when more follow (Synapse's offset tokens). */
export function pageJson(
  key: string,
  items: Record<string, unknown>[],
  from: number,
  total: number,
): Record<string, unknown> {
  const answer: Record<string, unknown> = { [key]: items, total };
  if (from + items.length < total) answer.next_token = from + items.length;
  return answer;
}
