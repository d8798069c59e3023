/**
 * `GET /_matrix/client/v3/admin/whois/{userId}`: the spec lets servers keep
 * it to the user themselves and server admins, as Synapse does.
 */
import type { AdminUserService } from '../../admin/admin-user-service.js';
import { ownerOf, type Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';

export function registerWhoisRoutes(router: Router, admin: AdminUserService): void {
  router.client('GET', '/admin/whois/:userId', { auth: 'required' }, async (request) => {
    const { userId } = request.params as { userId: string };
    const caller = ownerOf(request).userId;
    if (caller !== userId && !(await admin.isServerAdmin(caller))) {
      throw errors.forbidden('You are not a server admin');
    }
    return admin.whois(userId);
  });
}
