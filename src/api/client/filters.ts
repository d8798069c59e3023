/** Sync filters: POST /user/{userId}/filter, GET /user/{userId}/filter/{filterId}. */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { objectBody } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { FilterService } from '../../sync/filter-service.js';

interface FilterParams {
  userId: string;
  filterId?: string;
}

/**
 * The user in the path, who must be the token's owner (403 otherwise, with
 * Synapse's messages). Guests are refused by the router: the spec's guest
 * access list does not include these endpoints (matrix-js-sdk gives guests
 * inline filters).
 */
function pathUser(request: FastifyRequest, refusal: string): string {
  const { userId } = request.params as FilterParams;
  if (userId !== ownerOf(request).userId) throw errors.forbidden(refusal);
  return userId;
}

export function registerFilterRoutes(router: Router, filters: FilterService): void {
  router.client('POST', '/user/:userId/filter', { auth: 'required' }, async (request) => {
    const userId = pathUser(request, 'Cannot create filters for other users');
    const body = objectBody(request.body);
    return { filter_id: await filters.create(userId, body) };
  });

  router.client('GET', '/user/:userId/filter/:filterId', { auth: 'required' }, async (request) => {
    const userId = pathUser(request, 'Cannot get filters for other users');
    return filters.get(userId, (request.params as FilterParams).filterId!);
  });
}
