/**
 * Synapse's room moderation endpoints: room deletion (v2 in the background
 * with its status, v1 answered when done), blocking, and history purges with
 * their status. Server admins only (the router checks).
 */
import type { RoomModerationService } from '../../admin/room-moderation-service.js';
import {
  parseBlockBody,
  parseHistoryPurge,
  parseRoomDeletion,
} from '../../admin/room-moderation-rules.js';
import { ownerOf, type Router } from '../../http/router.js';
import { objectBody } from '../../protocol/params.js';

export function registerAdminRoomModerationRoutes(
  router: Router,
  moderation: RoomModerationService,
  serverName: string,
): void {
  const roomIdOf = (params: unknown) => (params as { roomId: string }).roomId;
  // Synapse requires a body, at least `{}`.
  const deletionOf = (request: Parameters<Parameters<Router['admin']>[2]>[0]) =>
    parseRoomDeletion(objectBody(request.body), ownerOf(request).userId, serverName);

  router.admin('DELETE', '/v2/rooms/:roomId', async (request) =>
    moderation.deleteRoom(roomIdOf(request.params), deletionOf(request)),
  );

  router.admin('DELETE', '/v1/rooms/:roomId', async (request) =>
    moderation.deleteRoomNow(roomIdOf(request.params), deletionOf(request)),
  );

  router.admin('GET', '/v2/rooms/delete_status/:deleteId', async (request) =>
    moderation.deleteStatus((request.params as { deleteId: string }).deleteId),
  );

  router.admin('GET', '/v2/rooms/:roomId/delete_status', async (request) =>
    moderation.deleteStatusesOfRoom(roomIdOf(request.params)),
  );

  router.admin('GET', '/v1/rooms/:roomId/block', async (request) =>
    moderation.blockStatus(roomIdOf(request.params)),
  );

  router.admin('PUT', '/v1/rooms/:roomId/block', async (request) => {
    const block = parseBlockBody(objectBody(request.body));
    return moderation.setBlocked(roomIdOf(request.params), block, ownerOf(request).userId);
  });

  const purge = async (request: Parameters<Parameters<Router['admin']>[2]>[0]) => {
    const { eventId } = request.params as { eventId?: string };
    const body = objectBody(request.body, { allowEmpty: true });
    return moderation.purgeHistory(roomIdOf(request.params), parseHistoryPurge(body, eventId));
  };
  router.admin('POST', '/v1/purge_history/:roomId', purge);
  router.admin('POST', '/v1/purge_history/:roomId/:eventId', purge);

  router.admin('GET', '/v1/purge_history_status/:purgeId', async (request) =>
    moderation.purgeStatus((request.params as { purgeId: string }).purgeId),
  );
}
