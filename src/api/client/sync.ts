/** /sync, /rooms/{roomId}/messages and /rooms/{roomId}/context/{eventId}. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import {
  parseInlineJson,
  parseRoomEventFilter,
  type RoomEventFilter,
  type SyncFilter,
} from '../../sync/filters.js';
import { parseSyncToken } from '../../sync/stream-token.js';
import type { ClientApiServices } from './services.js';

const PRESENCE_STATES: readonly string[] = ['online', 'offline', 'unavailable'];
/** The longest a /sync long-poll may wait; longer `timeout`s are cut to it (as Synapse does). */
export const MAX_SYNC_TIMEOUT_MS = 5 * 60_000;

export function registerSyncRoutes(router: Router, services: ClientApiServices): void {
  const { sync, history, resolveFilter } = services.syncDeps;
  const { presence } = services.userData;

  router.client('GET', '/sync', { auth: 'required', guest: true }, async (request, reply) => {
    const owner = ownerOf(request);
    const query = request.query;
    const sinceParam = queryString(query, 'since');
    const setPresence = queryString(query, 'set_presence');
    if (setPresence !== undefined && !PRESENCE_STATES.includes(setPresence)) {
      throw errors.invalidParam('set_presence must be online, offline or unavailable');
    }
    const fullState = booleanParam(queryString(query, 'full_state'), 'full_state') ?? false;
    const useStateAfter =
      booleanParam(queryString(query, 'use_state_after'), 'use_state_after') ?? false;
    const filter: SyncFilter = await resolveFilter(owner.userId, queryString(query, 'filter'));
    const timeoutMs = Math.min(
      integerParam(queryString(query, 'timeout'), 'timeout') ?? 0,
      MAX_SYNC_TIMEOUT_MS,
    );
    const since = sinceParam === undefined ? undefined : parseSyncToken(sinceParam);
    // A syncing user is online (or what set_presence says) until the sync ends.
    const syncEnded = await presence.syncing(owner.userId, setPresence);
    try {
      return await sync.sync({
        viewer: owner,
        since,
        filter,
        fullState,
        useStateAfter,
        // The spec: full_state ignores timeout and answers at once.
        timeoutMs: fullState ? 0 : timeoutMs,
        signal: abortedWhenClosed(reply),
      });
    } finally {
      syncEnded();
    }
  });

  router.client('GET', '/rooms/:roomId/messages', { auth: 'required', guest: true }, (request) => {
    const query = request.query;
    const dir = queryString(query, 'dir');
    if (dir === undefined) throw errors.missingParam('dir');
    if (dir !== 'b' && dir !== 'f') throw errors.invalidParam('dir must be b or f');
    return history.messages({
      viewer: ownerOf(request),
      roomId: roomIdOf(request),
      dir,
      from: queryString(query, 'from'),
      to: queryString(query, 'to'),
      limit: integerParam(queryString(query, 'limit'), 'limit'),
      filter: roomEventFilterParam(queryString(query, 'filter')),
    });
  });

  router.client(
    'GET',
    '/rooms/:roomId/context/:eventId',
    { auth: 'required', guest: true },
    (request) => {
      const query = request.query;
      return history.context({
        viewer: ownerOf(request),
        roomId: roomIdOf(request),
        eventId: (request.params as { eventId: string }).eventId,
        limit: integerParam(queryString(query, 'limit'), 'limit'),
        filter: roomEventFilterParam(queryString(query, 'filter')),
      });
    },
  );
}

function roomIdOf(request: FastifyRequest): string {
  return (request.params as { roomId: string }).roomId;
}

function roomEventFilterParam(text: string | undefined): RoomEventFilter | undefined {
  return text === undefined ? undefined : parseRoomEventFilter(parseInlineJson(text), 'query');
}

/** A non-negative integer query parameter (a limit or a timeout). */
export function integerParam(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(text)) throw errors.invalidParam(`${name} must be an integer`);
  return Number(text);
}

export function booleanParam(text: string | undefined, name: string): boolean | undefined {
  if (text === undefined) return undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw errors.invalidParam(`${name} must be true or false`);
}

/**
 * Aborted when the client goes away, so a long-poll stops waiting for nobody.
 * (The response's `close` comes before it is sent only when the connection drops.)
 */
export function abortedWhenClosed(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  // An answered request closes too: aborting then would only build an unused DOMException.
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
