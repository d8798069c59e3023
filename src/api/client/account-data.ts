/**
 * Account data (global and per room) and room tags:
 * /user/{userId}/account_data/{type}, /user/{userId}/rooms/{roomId}/account_data/{type},
 * /user/{userId}/rooms/{roomId}/tags[/{tag}]. Only one's own (403 otherwise).
 */
import type { FastifyRequest } from 'fastify';
import {
  checkClientWritable,
  checkIgnoredUserList,
  checkRoomId,
  checkTagBody,
  checkType,
  IGNORED_USER_LIST,
  ignoredUsersOf,
  PUSH_RULES,
  TAGS,
  tagsOf,
} from '../../account-data/account-data-rules.js';
import { errors } from '../../protocol/errors.js';
import { objectBody } from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { UserDataDeps } from './user-data.js';

interface Params {
  userId: string;
  roomId?: string;
  type?: string;
  tag?: string;
}

/** Guests may keep account data and tags (the spec's guest access list has them). */
const AUTH = { auth: 'required', guest: true } as const;

function ownUser(request: FastifyRequest): string {
  const { userId } = request.params as Params;
  if (userId !== ownerOf(request).userId) {
    throw errors.forbidden("Cannot read or change another user's account data");
  }
  return userId;
}

function params(request: FastifyRequest) {
  const p = request.params as Params;
  if (p.roomId !== undefined) checkRoomId(p.roomId);
  if (p.type !== undefined) checkType(p.type);
  return p;
}

export function registerAccountDataRoutes(router: Router, deps: UserDataDeps): void {
  const { accountData, pushRules } = deps;

  const read = async (userId: string, roomId: string | undefined, type: string) => {
    if (roomId === undefined && type === PUSH_RULES) return pushRules.content(userId);
    const content = await accountData.get(userId, roomId, type);
    if (content === undefined) throw errors.notFound('Account data not found');
    return content;
  };

  const write = async (request: FastifyRequest) => {
    const userId = ownUser(request);
    const { roomId, type } = params(request);
    checkClientWritable(type!);
    const content = objectBody(request.body);
    if (roomId === undefined && type === IGNORED_USER_LIST) {
      checkIgnoredUserList(content);
      if (ignoredUsersOf(content).has(userId))
        throw errors.invalidParam('You cannot ignore yourself');
    }
    await accountData.put(userId, roomId, type!, content);
    return {};
  };

  const readRoute = async (request: FastifyRequest) => {
    const userId = ownUser(request);
    const { roomId, type } = params(request);
    return read(userId, roomId, type!);
  };

  router.client('GET', '/user/:userId/account_data/:type', AUTH, readRoute);
  router.client('PUT', '/user/:userId/account_data/:type', AUTH, write);
  router.client('GET', '/user/:userId/rooms/:roomId/account_data/:type', AUTH, readRoute);
  router.client('PUT', '/user/:userId/rooms/:roomId/account_data/:type', AUTH, write);

  router.client('GET', '/user/:userId/rooms/:roomId/tags', AUTH, async (request) => {
    const userId = ownUser(request);
    const { roomId } = params(request);
    return { tags: tagsOf(await accountData.get(userId, roomId, TAGS)) };
  });

  router.client('PUT', '/user/:userId/rooms/:roomId/tags/:tag', AUTH, async (request) => {
    const userId = ownUser(request);
    const { roomId, tag } = params(request);
    const body = objectBody(request.body);
    checkTagBody(tag!, body);
    await accountData.putTag(userId, roomId!, tag!, body);
    return {};
  });

  router.client('DELETE', '/user/:userId/rooms/:roomId/tags/:tag', AUTH, async (request) => {
    const userId = ownUser(request);
    const { roomId, tag } = params(request);
    await accountData.deleteTag(userId, roomId!, tag!);
    return {};
  });
}
