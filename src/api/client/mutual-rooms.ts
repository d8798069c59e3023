/**
 * GET /_matrix/client/v1/mutual_rooms?user_id=&from= and the unstable path of
 * MSC2666 that Synapse served before v1.19 (uk.half-shot.msc2666), same answer.
 */
import type { FastifyRequest } from 'fastify';
import { ownerOf, type Router } from '../../http/router.js';
import { queryString } from '../../protocol/params.js';
import type { MutualRoomsService } from '../../rooms/mutual-rooms.js';

const UNSTABLE = '/_matrix/client/unstable/uk.half-shot.msc2666/user/mutual_rooms';

export function registerMutualRoomsRoutes(router: Router, mutual: MutualRoomsService): void {
  const handler = async (request: FastifyRequest) => {
    const { query } = request;
    return mutual.mutualRooms(
      ownerOf(request).userId,
      queryString(query, 'user_id'),
      queryString(query, 'from'),
    );
  };
  router.v1('GET', '/mutual_rooms', { auth: 'required' }, handler);
  router.route('GET', UNSTABLE, { auth: 'required' }, handler);
}
