/**
 * GET /_matrix/client/v1/room_summary/{roomIdOrAlias} and the unstable paths of
 * MSC3266 that Synapse still serves (im.nheko.summary), with the same answer.
 */
import type { FastifyRequest } from 'fastify';
import type { Router } from '../../http/router.js';
import type { RoomSummaryService } from '../../rooms/room-summary-service.js';

const UNSTABLE = '/_matrix/client/unstable/im.nheko.summary';

export function registerRoomSummaryRoutes(router: Router, summaries: RoomSummaryService): void {
  // Auth optional, guests allowed, as Synapse: without a token only public,
  // knockable and world-readable rooms are shown (the spec's MAY).
  const options = { auth: 'optional', guest: true } as const;
  const handler = async (request: FastifyRequest) => {
    const { roomIdOrAlias } = request.params as { roomIdOrAlias: string };
    // `via` is accepted and unused: without federation only local rooms can be summarised.
    return summaries.summary(roomIdOrAlias, request.owner?.userId);
  };
  router.v1('GET', '/room_summary/:roomIdOrAlias', options, handler);
  router.route('GET', `${UNSTABLE}/rooms/:roomIdOrAlias/summary`, options, handler);
  router.route('GET', `${UNSTABLE}/summary/:roomIdOrAlias`, options, handler);
}
