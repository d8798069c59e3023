/** POST /user_directory/search. */
import { errors } from '../../protocol/errors.js';
import { objectBody, requiredString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { UserDataDeps } from './user-data.js';

export function registerUserDirectoryRoutes(router: Router, { userDirectory }: UserDataDeps): void {
  router.client('POST', '/user_directory/search', { auth: 'required' }, async (request) => {
    const body = objectBody(request.body);
    const term = requiredString(body, 'search_term');
    const limit = body.limit;
    if (
      limit !== undefined &&
      (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0)
    ) {
      throw errors.badJson('limit must be a non-negative integer');
    }
    return userDirectory.search(ownerOf(request).userId, term, limit);
  });
}
