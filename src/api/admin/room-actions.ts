/**
 * Synapse's room actions in the Admin API: join a user to a room, make a room
 * admin, a room's forward extremities, its messages. Server admins only (the
 * router checks).
 */
import type { AdminRoomActionService } from '../../admin/admin-room-actions.js';
import { ownerOf, type Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, optionalString, queryString, requiredString } from '../../protocol/params.js';
import { parseInlineJson, parseRoomEventFilter } from '../../sync/filters.js';
import { integerParam } from '../client/sync.js';

/** Synapse's default page of the admin /messages (the client API's is larger). */
const ADMIN_MESSAGES_LIMIT = 10;

export function registerAdminRoomActionRoutes(
  router: Router,
  actions: AdminRoomActionService,
): void {
  // `:roomId` on the rooms/ paths, as the other room routes name it (an ID or an alias here).
  const roomOf = (params: unknown) => {
    const named = params as { roomId?: string; roomIdOrAlias?: string };
    return named.roomId ?? named.roomIdOrAlias ?? '';
  };

  router.admin('POST', '/v1/join/:roomIdOrAlias', async (request) => {
    const userId = requiredString(objectBody(request.body), 'user_id');
    return actions.join(ownerOf(request).userId, roomOf(request.params), userId);
  });

  router.admin('POST', '/v1/rooms/:roomId/make_room_admin', async (request) => {
    const body = objectBody(request.body, { allowEmpty: true });
    const target = optionalString(body, 'user_id') ?? ownerOf(request).userId;
    return actions.makeRoomAdmin(roomOf(request.params), target);
  });

  router.admin('GET', '/v1/rooms/:roomId/forward_extremities', async (request) =>
    actions.forwardExtremities(roomOf(request.params)),
  );

  router.admin('DELETE', '/v1/rooms/:roomId/forward_extremities', async (request) =>
    actions.deleteForwardExtremities(roomOf(request.params)),
  );

  // Synapse's PaginationConfig: `dir` defaults to forwards here, `from` to the room's start or end.
  router.admin('GET', '/v1/rooms/:roomId/messages', async (request) => {
    const query = request.query;
    const dir = queryString(query, 'dir') ?? 'f';
    if (dir !== 'b' && dir !== 'f') throw errors.invalidParam('dir must be b or f');
    const filter = queryString(query, 'filter');
    return actions.messages({
      viewer: ownerOf(request),
      roomId: roomOf(request.params),
      dir,
      from: queryString(query, 'from'),
      to: queryString(query, 'to'),
      limit: integerParam(queryString(query, 'limit'), 'limit') ?? ADMIN_MESSAGES_LIMIT,
      filter:
        filter === undefined ? undefined : parseRoomEventFilter(parseInlineJson(filter), 'query'),
    });
  });
}
