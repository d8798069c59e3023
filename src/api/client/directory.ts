/** Room aliases and the published room directory: /directory/room, /directory/list, /publicRooms. */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import {
  objectBody,
  optionalBoolean,
  optionalObject,
  optionalString,
  queryString,
  requiredString,
  type JsonObject,
} from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import {
  parseAlias,
  type PublicRoomsQuery,
  type Visibility,
} from '../../rooms/directory-service.js';
import type { ClientApiServices } from './services.js';

interface DirectoryParams {
  roomAlias?: string;
  roomId?: string;
}

export function registerDirectoryRoutes(router: Router, services: ClientApiServices): void {
  const { directory } = services.roomDeps;
  const params = (request: FastifyRequest) => request.params as DirectoryParams;
  /** The alias from the path, refused with 400 M_INVALID_PARAM unless well-formed. */
  const aliasOf = (request: FastifyRequest) => {
    const alias = params(request).roomAlias!;
    parseAlias(alias);
    return alias;
  };

  router.client('PUT', '/directory/room/:roomAlias', { auth: 'required' }, async (request) => {
    const alias = aliasOf(request);
    const roomId = requiredString(objectBody(request.body), 'room_id');
    // Aliases in an application service's exclusive namespace are the service's (M_EXCLUSIVE).
    services.appServices.checkAlias(alias, ownerOf(request));
    await directory.createAlias(alias, roomId, ownerOf(request).userId);
    return {};
  });

  router.client('GET', '/directory/room/:roomAlias', { auth: 'none' }, async (request) =>
    directory.resolve(aliasOf(request)),
  );

  router.client('DELETE', '/directory/room/:roomAlias', { auth: 'required' }, async (request) => {
    await directory.deleteAlias(aliasOf(request), ownerOf(request).userId);
    return {};
  });

  router.client('GET', '/rooms/:roomId/aliases', { auth: 'required' }, async (request) => ({
    aliases: await directory.localAliases(params(request).roomId!, ownerOf(request).userId),
  }));

  router.client('GET', '/directory/list/room/:roomId', { auth: 'none' }, async (request) => ({
    visibility: await directory.visibility(params(request).roomId!),
  }));

  router.client('PUT', '/directory/list/room/:roomId', { auth: 'required' }, async (request) => {
    const body = objectBody(request.body, { allowEmpty: true });
    const visibility = parseVisibility(optionalString(body, 'visibility'));
    await directory.setVisibility(params(request).roomId!, ownerOf(request).userId, visibility);
    return {};
  });

  // The spec asks no token for GET; one given is still checked (optional). Asking another
  // server takes one (as Synapse): no anonymous use of our federation client.
  router.client('GET', '/publicRooms', { auth: 'optional', guest: true }, async (request) => {
    const server = queryString(request.query, 'server');
    if (directory.isRemoteServer(server)) ownerOf(request);
    return directory.publicRooms({
      limit: parseLimit(queryString(request.query, 'limit')),
      since: queryString(request.query, 'since'),
      server,
    });
  });

  router.client('POST', '/publicRooms', { auth: 'required' }, async (request) =>
    directory.publicRooms(parsePublicRoomsBody(request, services)),
  );
}

function parseVisibility(value: string | undefined): Visibility {
  // The spec's default when the body leaves it out.
  if (value === undefined) return 'public';
  if (value !== 'public' && value !== 'private') {
    throw errors.invalidParam('visibility must be public or private');
  }
  return value;
}

function parseLimit(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value)) throw errors.invalidParam('limit must be a positive integer');
  return Number(value);
}

function parsePublicRoomsBody(
  request: FastifyRequest,
  services: ClientApiServices,
): PublicRoomsQuery {
  const body = objectBody(request.body, { allowEmpty: true });
  const limit = body.limit;
  if (limit !== undefined && limit !== null && !Number.isInteger(limit)) {
    throw errors.badJson('limit must be an integer');
  }
  const filter = optionalObject(body, 'filter') ?? {};
  const server = queryString(request.query, 'server');
  const network = {
    thirdPartyInstanceId: optionalString(body, 'third_party_instance_id'),
    includeAllNetworks: optionalBoolean(body, 'include_all_networks') ?? false,
  };
  const remote = services.roomDeps.directory.isRemoteServer(server);
  return {
    limit: (limit ?? undefined) as number | undefined,
    since: optionalString(body, 'since'),
    server,
    searchTerm: optionalString(filter, 'generic_search_term', 'filter.'),
    roomTypes: parseRoomTypes(filter),
    // Another server's networks are its to judge: passed on as they came.
    ...(remote
      ? { network }
      : {
          // Application services' networks (appservice/appservice-directory.ts); else the server's list.
          list: services.appServiceDirectory.listFor(
            network.thirdPartyInstanceId,
            network.includeAllNetworks,
          ),
        }),
  };
}

function parseRoomTypes(filter: JsonObject): (string | null)[] | undefined {
  const value = filter.room_types;
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((t) => t === null || typeof t === 'string')) {
    throw errors.badJson('filter.room_types must be an array of strings and nulls');
  }
  return value as (string | null)[];
}
