/**
 * The federation endpoints of joining, leaving, knocking and inviting:
 * `make_join` / `v2 send_join`, `make_leave` / `v2 send_leave` (v1 send_join
 * and send_leave were removed in v1.18: not served), `make_knock` /
 * `v1 send_knock`, `v2 invite`, and `v1 query/directory` (room aliases).
 */
import type { Method } from '../../http/router.js';
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import type { MembershipServing } from '../../federation/membership-serving.js';

export type FederationHandler = (request: FastifyRequest, origin: string) => Promise<unknown>;

export interface FederationRoutes {
  federation(method: Method, path: string, handler: FederationHandler): void;
}

/** Answers which room an alias of ours names, and the servers to join it through. */
export interface AliasDirectory {
  resolve(alias: string): Promise<{ room_id: string; servers: string[] }>;
}

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';

export function registerFederationMembershipRoutes(
  router: FederationRoutes,
  serving: MembershipServing,
  directory: AliasDirectory,
): void {
  router.federation('GET', `${V1}/make_join/:roomId/:userId`, async (request, origin) => {
    const { roomId, userId } = request.params as { roomId: string; userId: string };
    // Without `ver` the asking server supports only room version 1 (the spec's default).
    const versions = versionsOf(request.query);
    return serving.makeMembership(origin, roomId, userId, 'join', versions);
  });
  router.federation('GET', `${V1}/make_knock/:roomId/:userId`, async (request, origin) => {
    const { roomId, userId } = request.params as { roomId: string; userId: string };
    const versions = versionsOf(request.query);
    if (versions.length === 0) throw errors.missingParam('ver');
    return serving.makeMembership(origin, roomId, userId, 'knock', versions);
  });
  router.federation('GET', `${V1}/make_leave/:roomId/:userId`, async (request, origin) => {
    const { roomId, userId } = request.params as { roomId: string; userId: string };
    return serving.makeMembership(origin, roomId, userId, 'leave', []);
  });

  router.federation('PUT', `${V2}/send_join/:roomId/:eventId`, async (request, origin) => {
    const { roomId, eventId } = request.params as { roomId: string; eventId: string };
    return serving.sendJoin(origin, roomId, eventId, request.body);
  });
  router.federation('PUT', `${V2}/send_leave/:roomId/:eventId`, async (request, origin) => {
    const { roomId, eventId } = request.params as { roomId: string; eventId: string };
    return serving.sendLeave(origin, roomId, eventId, request.body);
  });
  router.federation('PUT', `${V1}/send_knock/:roomId/:eventId`, async (request, origin) => {
    const { roomId, eventId } = request.params as { roomId: string; eventId: string };
    return serving.sendKnock(origin, roomId, eventId, request.body);
  });
  router.federation('PUT', `${V2}/invite/:roomId/:eventId`, async (request, origin) => {
    const { roomId, eventId } = request.params as { roomId: string; eventId: string };
    return serving.receiveInvite(origin, roomId, eventId, request.body);
  });

  router.federation('GET', `${V1}/query/directory`, async (request) => {
    const alias = queryString(request.query, 'room_alias');
    if (alias === undefined) throw errors.missingParam('room_alias');
    return directory.resolve(alias);
  });
}

/** Every `ver` of the query (one or repeated). */
function versionsOf(query: unknown): string[] {
  const value = (query as Record<string, unknown> | undefined)?.ver;
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is string => typeof v === 'string');
}
