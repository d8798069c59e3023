/**
 * The Server-Server queries about our users: `/v1/query/profile`,
 * `/v1/user/devices/{userId}`, `/v1/user/keys/query`, `/v1/user/keys/claim`
 * (federation/query-serving.ts answers them). `/v1/query/directory` is
 * membership.ts's; `/v1/openid/userinfo` is api/client/openid.ts's.
 */
import type { FastifyRequest } from 'fastify';
import type { Method } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import type { QueryServing } from '../../federation/query-serving.js';

export type FederationHandler = (request: FastifyRequest, origin: string) => Promise<unknown>;

export interface FederationRoutes {
  federation(method: Method, path: string, handler: FederationHandler): void;
}

const V1 = '/_matrix/federation/v1';

export function registerFederationQueryRoutes(
  router: FederationRoutes,
  queries: QueryServing,
): void {
  router.federation('GET', `${V1}/query/profile`, async (request) => {
    const userId = queryString(request.query, 'user_id');
    if (userId === undefined) throw errors.missingParam('user_id');
    return queries.profile(userId, queryString(request.query, 'field'));
  });

  router.federation('GET', `${V1}/user/devices/:userId`, async (request) => {
    const { userId } = request.params as { userId: string };
    return queries.userDevices(userId);
  });

  router.federation('POST', `${V1}/user/keys/query`, async (request) =>
    queries.keysQuery(request.body),
  );

  router.federation('POST', `${V1}/user/keys/claim`, async (request) =>
    queries.keysClaim(request.body),
  );
}
