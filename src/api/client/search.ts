/** `POST /_matrix/client/v3/search` (and r0): server-side search, search.yaml. */
import { ownerOf, type Router } from '../../http/router.js';
import { queryString } from '../../protocol/params.js';
import type { SearchService } from '../../search/search-service.js';

export function registerSearchRoutes(router: Router, search: SearchService): void {
  router.client('POST', '/search', { auth: 'required' }, async (request) => {
    const nextBatch = queryString(request.query, 'next_batch');
    return search.search(ownerOf(request), request.body, nextBatch);
  });
}
