/**
 * The r0-era endpoints: /initialSync, /rooms/{roomId}/initialSync, /events and
 * /events/{eventId}. The spec's YAML lists them under v3 (basePath
 * /_matrix/client/v3), and old clients call them under r0: `router.client`
 * registers both, as for every other endpoint.
 */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { DEFAULT_TIMELINE_LIMIT } from '../../sync/filters.js';
import { parseSyncToken } from '../../sync/stream-token.js';
import type { ClientApiServices } from './services.js';
import { MAX_SYNC_TIMEOUT_MS, abortedWhenClosed, booleanParam, integerParam } from './sync.js';

/** /events without `timeout` waits this long (Synapse's default). */
const DEFAULT_EVENTS_TIMEOUT_MS = 30_000;
/** The most messages per room a client may ask for, so one request cannot read whole rooms. */
const MAX_MESSAGES_LIMIT = 1_000;

export function registerLegacySyncRoutes(router: Router, services: ClientApiServices): void {
  const { legacy } = services.syncDeps;

  router.client('GET', '/initialSync', { auth: 'required' }, (request) =>
    legacy.initialSync({
      viewer: ownerOf(request),
      limit: messagesLimit(request),
      archived: booleanParam(queryString(request.query, 'archived'), 'archived') ?? false,
    }),
  );

  // Guests may peek at a room this way (the spec's guest access list has it).
  router.client(
    'GET',
    '/rooms/:roomId/initialSync',
    { auth: 'required', guest: true },
    (request) => {
      const { roomId } = request.params as { roomId: string };
      return legacy.roomInitialSync(ownerOf(request), roomId, messagesLimit(request));
    },
  );

  router.client('GET', '/events', { auth: 'required', guest: true }, (request, reply) => {
    const owner = ownerOf(request);
    const query = request.query;
    const roomId = queryString(query, 'room_id');
    // Guests may only use /events to preview a room (as Synapse: they must name it).
    if (owner.isGuest && roomId === undefined) throw errors.guestAccessForbidden();
    const from = queryString(query, 'from');
    const timeoutMs = integerParam(queryString(query, 'timeout'), 'timeout');
    return legacy.events({
      viewer: owner,
      from: from === undefined ? undefined : { token: from, positions: parseSyncToken(from) },
      roomId,
      timeoutMs: Math.min(timeoutMs ?? DEFAULT_EVENTS_TIMEOUT_MS, MAX_SYNC_TIMEOUT_MS),
      signal: abortedWhenClosed(reply),
    });
  });

  router.client('GET', '/events/:eventId', { auth: 'required' }, (request) =>
    legacy.event(ownerOf(request), (request.params as { eventId: string }).eventId),
  );
}

function messagesLimit(request: FastifyRequest): number {
  const limit = integerParam(queryString(request.query, 'limit'), 'limit');
  return Math.min(limit ?? DEFAULT_TIMELINE_LIMIT, MAX_MESSAGES_LIMIT);
}
