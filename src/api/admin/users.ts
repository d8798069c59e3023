/**
 * Synapse's user admin endpoints: the user list, one user, the admin flag,
 * whois, username availability. Server admins only (the router checks).
 */
import { parseUserListQuery } from '../../admin/admin-rules.js';
import { errors } from '../../protocol/errors.js';
import { objectBody, queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { AdminApiServices } from './services.js';

export function registerAdminUserRoutes(router: Router, services: AdminApiServices): void {
  const { admin, accounts } = services;
  const userIdParam = (params: unknown) => (params as { userId: string }).userId;

  router.admin('GET', '/v2/users', async (request) =>
    admin.listUsers(parseUserListQuery(request.query, 'v2')),
  );

  // Ketesa (synapse-admin) lists users through v3.
  router.admin('GET', '/v3/users', async (request) =>
    admin.listUsers(parseUserListQuery(request.query, 'v3')),
  );

  router.admin('GET', '/v2/users/:userId', async (request) =>
    admin.user(userIdParam(request.params)),
  );

  router.admin('GET', '/v1/users/:userId/admin', async (request) => ({
    admin: await admin.isAdmin(userIdParam(request.params)),
  }));

  router.admin('PUT', '/v1/users/:userId/admin', async (request) => {
    const body = objectBody(request.body);
    const value = body.admin;
    if (value === undefined || value === null) throw errors.missingParam('admin');
    if (typeof value !== 'boolean') throw errors.badJson('admin must be a boolean');
    await admin.setAdmin(ownerOf(request).userId, userIdParam(request.params), value);
    return {};
  });

  router.admin('GET', '/v1/whois/:userId', async (request) =>
    admin.whois(userIdParam(request.params)),
  );

  router.admin('GET', '/v1/username_available', async (request) => {
    const username = queryString(request.query, 'username');
    if (username === undefined) throw errors.missingParam('username');
    await accounts.claimableUserId(username);
    return { available: true };
  });
}
