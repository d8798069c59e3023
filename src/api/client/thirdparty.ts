/** GET /_matrix/client/v3/thirdparty/...: protocols, locations and users of bridged networks. */
import type { FastifyRequest } from 'fastify';
import type { Router } from '../../http/router.js';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import type { LookupFields, ThirdPartyService } from '../../thirdparty/thirdparty-service.js';

export function registerThirdPartyRoutes(router: Router, thirdParty: ThirdPartyService): void {
  const options = { auth: 'required' } as const;
  router.client('GET', '/thirdparty/protocols', options, async () => thirdParty.protocols());
  router.client('GET', '/thirdparty/protocol/:protocol', options, async (request) =>
    thirdParty.protocol(protocolOf(request)),
  );
  router.client('GET', '/thirdparty/location/:protocol', options, async (request) =>
    thirdParty.locations(protocolOf(request), lookupFields(request.query)),
  );
  router.client('GET', '/thirdparty/user/:protocol', options, async (request) =>
    thirdParty.users(protocolOf(request), lookupFields(request.query)),
  );
  router.client('GET', '/thirdparty/location', options, async (request) =>
    thirdParty.locationsForAlias(requiredQuery(request.query, 'alias')),
  );
  router.client('GET', '/thirdparty/user', options, async (request) =>
    thirdParty.usersForUserId(requiredQuery(request.query, 'userid')),
  );
}

function protocolOf(request: FastifyRequest): string {
  return (request.params as { protocol: string }).protocol;
}

function requiredQuery(query: unknown, name: string): string {
  const value = queryString(query, name);
  if (value === undefined) throw errors.missingParam(name);
  return value;
}

/** The query's fields for the provider, each given once; the access token is not one of them. */
function lookupFields(query: unknown): LookupFields {
  const fields: LookupFields = {};
  for (const key of Object.keys((query ?? {}) as object)) {
    if (key === 'access_token') continue;
    fields[key] = queryString(query, key)!;
  }
  return fields;
}
