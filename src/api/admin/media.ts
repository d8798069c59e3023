/**
 * Synapse's media admin endpoints (server admins only, the router checks):
 * a room's media, deletion, quarantine, protection, a user's media and the
 * per-user statistics.
 */
import type { AdminMediaService } from '../../admin/admin-media-service.js';
import { parseUserMediaQuery } from '../../admin/admin-media-rules.js';
import { ownerOf, type Router } from '../../http/router.js';

interface MediaParams {
  serverName: string;
  mediaId: string;
  roomId: string;
  userId: string;
}

export function registerAdminMediaRoutes(
  router: Router,
  media: AdminMediaService,
  serverName: string,
): void {
  const params = (request: { params: unknown }) => request.params as MediaParams;

  router.admin('GET', '/v1/room/:roomId/media', async (request) =>
    media.roomMedia(params(request).roomId),
  );

  router.admin('GET', '/v1/media/:serverName/:mediaId', async (request) =>
    media.mediaInfo(params(request).serverName, params(request).mediaId),
  );
  router.admin('DELETE', '/v1/media/:serverName/:mediaId', async (request) =>
    media.deleteOne(params(request).serverName, params(request).mediaId),
  );
  router.admin('POST', '/v1/media/delete', async (request) =>
    media.deleteOlder(serverName, request.query),
  );
  // The older path, naming the server.
  router.admin('POST', '/v1/media/:serverName/delete', async (request) =>
    media.deleteOlder(params(request).serverName, request.query),
  );

  router.admin('POST', '/v1/media/quarantine/:serverName/:mediaId', async (request) =>
    media.quarantineOne(params(request).serverName, params(request).mediaId, adminOf(request)),
  );
  router.admin('POST', '/v1/media/unquarantine/:serverName/:mediaId', async (request) =>
    media.quarantineOne(params(request).serverName, params(request).mediaId, null),
  );
  router.admin('POST', '/v1/room/:roomId/media/quarantine', async (request) =>
    media.quarantineRoom(params(request).roomId, adminOf(request)),
  );
  // Synapse's deprecated path for the same.
  router.admin('POST', '/v1/quarantine_media/:roomId', async (request) =>
    media.quarantineRoom(params(request).roomId, adminOf(request)),
  );
  router.admin('POST', '/v1/user/:userId/media/quarantine', async (request) =>
    media.quarantineUser(params(request).userId, adminOf(request)),
  );

  router.admin('POST', '/v1/media/protect/:mediaId', async (request) =>
    media.protect(params(request).mediaId, true),
  );
  router.admin('POST', '/v1/media/unprotect/:mediaId', async (request) =>
    media.protect(params(request).mediaId, false),
  );

  router.admin('GET', '/v1/users/:userId/media', async (request) =>
    media.userMedia(params(request).userId, parseUserMediaQuery(request.query)),
  );
  router.admin('DELETE', '/v1/users/:userId/media', async (request) =>
    media.deleteUserMedia(params(request).userId, parseUserMediaQuery(request.query)),
  );

  router.admin('GET', '/v1/statistics/users/media', async (request) =>
    media.statistics(request.query),
  );
}

const adminOf = (request: Parameters<typeof ownerOf>[0]) => ownerOf(request).userId;
