/**
 * Event relationships (v1 only): GET /rooms/{roomId}/relations/{eventId}
 * [/{relType}[/{eventType}]] and GET /rooms/{roomId}/threads.
 */
import type { FastifyRequest } from 'fastify';
import { errors } from '../../protocol/errors.js';
import { queryString } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { RelationService } from '../../relations/relation-service.js';
import { booleanParam, integerParam } from './sync.js';

interface RelationParams {
  roomId: string;
  eventId: string;
  relType?: string;
  eventType?: string;
}

export function registerRelationRoutes(router: Router, relations: RelationService): void {
  const children = async (request: FastifyRequest) => {
    const { roomId, eventId, relType, eventType } = request.params as RelationParams;
    const query = request.query;
    return relations.relations({
      viewer: ownerOf(request),
      roomId,
      eventId,
      relType,
      eventType,
      from: queryString(query, 'from'),
      to: queryString(query, 'to'),
      limit: integerParam(queryString(query, 'limit'), 'limit'),
      dir: directionParam(queryString(query, 'dir')),
      recurse: booleanParam(queryString(query, 'recurse'), 'recurse'),
    });
  };
  const base = '/rooms/:roomId/relations/:eventId';
  router.v1('GET', base, { auth: 'required' }, children);
  router.v1('GET', `${base}/:relType`, { auth: 'required' }, children);
  router.v1('GET', `${base}/:relType/:eventType`, { auth: 'required' }, children);

  router.v1('GET', '/rooms/:roomId/threads', { auth: 'required' }, async (request) => {
    const query = request.query;
    return relations.threads({
      viewer: ownerOf(request),
      roomId: (request.params as { roomId: string }).roomId,
      include: includeParam(queryString(query, 'include')),
      from: queryString(query, 'from'),
      limit: integerParam(queryString(query, 'limit'), 'limit'),
    });
  });
}

function directionParam(text: string | undefined): 'b' | 'f' {
  if (text === undefined || text === 'b') return 'b';
  if (text === 'f') return 'f';
  throw errors.invalidParam('dir must be b or f');
}

function includeParam(text: string | undefined): 'all' | 'participated' {
  if (text === undefined || text === 'all') return 'all';
  if (text === 'participated') return 'participated';
  throw errors.invalidParam('include must be all or participated');
}
