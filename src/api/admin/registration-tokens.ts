/**
 * Synapse's registration token admin endpoints (server admins only, the
 * router checks): list, create, read, change, delete.
 */
import type { AdminRegistrationTokenService } from '../../admin/registration-token-service.js';
import { parseValidFilter } from '../../auth/registration-tokens.js';
import type { Router } from '../../http/router.js';
import { objectBody, queryString } from '../../protocol/params.js';

export function registerAdminRegistrationTokenRoutes(
  router: Router,
  tokens: AdminRegistrationTokenService,
): void {
  const tokenParam = (params: unknown) => (params as { token: string }).token;

  router.admin('GET', '/v1/registration_tokens', async (request) =>
    tokens.list(parseValidFilter(queryString(request.query, 'valid'))),
  );

  router.admin('POST', '/v1/registration_tokens/new', async (request) =>
    tokens.create(objectBody(request.body, { allowEmpty: true })),
  );

  router.admin('GET', '/v1/registration_tokens/:token', async (request) =>
    tokens.get(tokenParam(request.params)),
  );

  router.admin('PUT', '/v1/registration_tokens/:token', async (request) =>
    tokens.update(tokenParam(request.params), objectBody(request.body, { allowEmpty: true })),
  );

  router.admin('DELETE', '/v1/registration_tokens/:token', async (request) =>
    tokens.delete(tokenParam(request.params)),
  );
}
