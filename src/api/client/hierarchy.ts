/** The space hierarchy (v1 only): GET /rooms/{roomId}/hierarchy. */
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { HierarchyService } from '../../rooms/hierarchy.js';
import { booleanParam, integerParam } from './sync.js';

export function registerHierarchyRoutes(router: Router, hierarchy: HierarchyService): void {
  router.v1('GET', '/rooms/:roomId/hierarchy', { auth: 'required' }, async (request) => {
    const query = request.query;
    return hierarchy.hierarchy({
      viewer: ownerOf(request).userId,
      roomId: (request.params as { roomId: string }).roomId,
      suggestedOnly: booleanParam(queryString(query, 'suggested_only'), 'suggested_only'),
      limit: integerParam(queryString(query, 'limit'), 'limit'),
      maxDepth: integerParam(queryString(query, 'max_depth'), 'max_depth'),
      from: queryString(query, 'from'),
    });
  });
}
