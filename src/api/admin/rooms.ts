/**
 * Synapse's room admin endpoints: the room list, one room, its members, its
 * current state. Server admins only (the router checks).
 */
import type { AdminRoomService } from '../../admin/admin-room-service.js';
import { parseRoomListQuery } from '../../admin/admin-room-rules.js';
import type { Router } from '../../http/router.js';

export function registerAdminRoomRoutes(router: Router, rooms: AdminRoomService): void {
  const roomIdParam = (params: unknown) => (params as { roomId: string }).roomId;

  router.admin('GET', '/v1/rooms', async (request) =>
    rooms.listRooms(parseRoomListQuery(request.query)),
  );

  router.admin('GET', '/v1/rooms/:roomId', async (request) =>
    rooms.room(roomIdParam(request.params)),
  );

  router.admin('GET', '/v1/rooms/:roomId/members', async (request) =>
    rooms.members(roomIdParam(request.params)),
  );

  router.admin('GET', '/v1/rooms/:roomId/state', async (request) =>
    rooms.state(roomIdParam(request.params)),
  );
}
