/** Rooms: creation, sending events, state, membership, reading events. */
import type { FastifyRequest } from 'fastify';
import { isValidUserId } from '../../events/auth/ids.js';
import type { JsonObject } from '../../events/pdu.js';
import { errors } from '../../protocol/errors.js';
import {
  objectBody,
  optionalBoolean,
  optionalObject,
  optionalString,
  queryString,
  requiredString,
} from '../../protocol/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import type { Preset } from '../../rooms/create-room.js';
import type { MemberAction } from '../../rooms/membership-service.js';
import type { EventDraft } from '../../rooms/room-service.js';
import type { ClientApiServices } from './services.js';
import { refuseThirdPartyInvite } from './threepid.js';
import { aliasOfCreateRoom, serviceTimestamp } from './appservice-rooms.js';

const PRESETS: readonly string[] = ['private_chat', 'public_chat', 'trusted_private_chat'];
const MEMBERSHIPS: readonly string[] = ['join', 'invite', 'knock', 'leave', 'ban'];
const MEMBER_ACTIONS: readonly MemberAction[] = ['invite', 'kick', 'ban', 'unban'];

interface RoomParams {
  roomId: string;
  eventType?: string;
  stateKey?: string;
  txnId?: string;
  eventId?: string;
}

export function registerRoomRoutes(router: Router, services: ClientApiServices): void {
  const { rooms, views, membership, state, creation } = services.roomDeps;
  const history = services.syncDeps.history;
  const params = (request: FastifyRequest) => request.params as RoomParams;
  /** The optional `reason` of a membership request's body. */
  const reasonOf = (request: FastifyRequest) =>
    optionalString(objectBody(request.body, { allowEmpty: true }), 'reason');

  router.client('POST', '/createRoom', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body, { allowEmpty: true });
    const parsed = parseCreateRoom(owner.userId, body);
    // An alias in an application service's exclusive namespace is the service's (M_EXCLUSIVE).
    const alias = aliasOfCreateRoom(parsed.roomAliasName, services.config.server_name);
    if (alias !== undefined) services.appServices.checkAlias(alias, owner);
    return { room_id: await creation.create(parsed) };
  });

  router.client('POST', '/rooms/:roomId/upgrade', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body);
    const extra = body.additional_creators ?? [];
    if (!Array.isArray(extra) || !extra.every((u) => typeof u === 'string')) {
      throw errors.badJson('additional_creators must be an array of user IDs');
    }
    const replacement = await creation.upgrade({
      roomId: params(request).roomId,
      userId: owner.userId,
      newVersion: requiredString(body, 'new_version'),
      additionalCreators: extra as string[],
    });
    return { replacement_room: replacement };
  });

  router.client(
    'PUT',
    '/rooms/:roomId/send/:eventType/:txnId',
    { auth: 'required', guest: true },
    async (request) => {
      const owner = ownerOf(request);
      const { roomId, eventType, txnId } = params(request);
      const content = objectBody(request.body) as JsonObject;
      // A transaction ID is reused only by a retry of the same request path (the spec's
      // "Transaction identifiers"): the same ID for another room or type is a new event.
      const txn = {
        userId: owner.userId,
        deviceId: owner.deviceId,
        endpoint: `send/${roomId}/${eventType!}`,
        txnId: txnId!,
      };
      if (eventType !== 'm.room.redaction') {
        await services.relations.checkSend(roomId, eventType!, content, owner.userId, txn);
      }
      // A redaction sent through /send gets the same checks and placement of `redacts`.
      // `?ts=`: an application service's bridged history keeps its own time (v1.3).
      const originServerTs = serviceTimestamp(owner, request.query);
      const event =
        eventType === 'm.room.redaction'
          ? await rooms.redact(
              roomId,
              owner.userId,
              redactsOf(content),
              content,
              txn,
              owner.suspended,
            )
          : await rooms.send(
              roomId,
              owner.userId,
              { type: eventType!, content, ...originServerTs },
              txn,
            );
      return { event_id: event.eventId };
    },
  );

  router.client(
    'PUT',
    '/rooms/:roomId/redact/:eventId/:txnId',
    { auth: 'required' },
    async (request) => {
      const owner = ownerOf(request);
      const { roomId, eventId, txnId } = params(request);
      const reason = reasonOf(request);
      const content: JsonObject = reason === undefined ? {} : { reason };
      const txn = {
        userId: owner.userId,
        deviceId: owner.deviceId,
        endpoint: `redact/${roomId}/${eventId!}`,
        txnId: txnId!,
      };
      const event = await rooms.redact(
        roomId,
        owner.userId,
        eventId!,
        content,
        txn,
        owner.suspended,
      );
      return { event_id: event.eventId };
    },
  );

  const putState = async (request: FastifyRequest) => {
    const { roomId, eventType, stateKey = '' } = params(request);
    const content = objectBody(request.body) as JsonObject;
    const owner = ownerOf(request);
    const userId = owner.userId;
    // A state event may carry a relation too: the same rules (no thread off a thread event).
    await services.relations.checkSend(roomId, eventType!, content, userId);
    const originServerTs = serviceTimestamp(owner, request.query);
    return {
      event_id: await state.put(userId, roomId, eventType!, stateKey, content, originServerTs),
    };
  };
  const getState = async (request: FastifyRequest) => {
    const owner = ownerOf(request);
    const { roomId, eventType, stateKey = '' } = params(request);
    const format = queryString(request.query, 'format') ?? 'content';
    if (format !== 'content' && format !== 'event') {
      throw errors.invalidParam('format must be content or event');
    }
    const event = await history.stateEvent(owner.userId, roomId, eventType!, stateKey);
    // As served everywhere else: a redacted state event has its content stripped.
    const served = await views.one(event, owner);
    return format === 'event' ? served : served.content;
  };
  for (const path of [
    '/rooms/:roomId/state/:eventType',
    '/rooms/:roomId/state/:eventType/:stateKey',
  ]) {
    router.client('PUT', path, { auth: 'required', guest: true }, putState);
    router.client('GET', path, { auth: 'required', guest: true }, getState);
  }

  router.client(
    'GET',
    '/rooms/:roomId/state',
    { auth: 'required', guest: true },
    async (request) => {
      const owner = ownerOf(request);
      return views.forClient(await history.state(owner.userId, params(request).roomId), owner);
    },
  );

  router.client(
    'GET',
    '/rooms/:roomId/event/:eventId',
    { auth: 'required', guest: true },
    async (request) => {
      const { roomId, eventId } = params(request);
      return history.event(ownerOf(request), roomId, eventId!);
    },
  );

  router.client(
    'GET',
    '/rooms/:roomId/members',
    { auth: 'required', guest: true },
    async (request) => {
      const owner = ownerOf(request);
      const { roomId } = params(request);
      const wanted = membershipParam(request.query, 'membership');
      const notWanted = membershipParam(request.query, 'not_membership');
      const at = queryString(request.query, 'at');
      // Both filters apply together. The spec's text says "or", but no server does that
      // (Synapse, Dendrite and Conduit all AND them: matrix-spec issue #2308).
      const members = (await history.members(owner, roomId, at))
        .filter((e) => wanted === undefined || e.pdu.content.membership === wanted)
        .filter((e) => notWanted === undefined || e.pdu.content.membership !== notWanted);
      return { chunk: await views.forClient(members, owner) };
    },
  );

  router.client('GET', '/rooms/:roomId/joined_members', { auth: 'required' }, async (request) => ({
    joined: await state.joinedMembers(ownerOf(request).userId, params(request).roomId),
  }));

  router.client('GET', '/joined_rooms', { auth: 'required' }, async (request) => ({
    joined_rooms: await state.joinedRooms(ownerOf(request).userId),
  }));

  router.client('POST', '/rooms/:roomId/join', { auth: 'required', guest: true }, (request) => {
    const roomId = params(request).roomId;
    // IDs only here: aliases go through /join/{roomIdOrAlias}.
    if (!roomId.startsWith('!')) throw errors.notFound('Unknown room');
    return joinRoom(request, roomId);
  });
  // The path names a room ID or a room alias (the parameter keeps the name roomId).
  router.client('POST', '/join/:roomId', { auth: 'required', guest: true }, (request) =>
    joinRoom(request, params(request).roomId),
  );
  async function joinRoom(request: FastifyRequest, roomIdOrAlias: string) {
    const owner = ownerOf(request);
    const via = viaServers(request.query); // federation joins: servers to join through
    return { room_id: await membership.join(owner, roomIdOrAlias, reasonOf(request), via) };
  }

  router.client('POST', '/knock/:roomId', { auth: 'required' }, async (request) => {
    const { userId } = ownerOf(request);
    const roomId = params(request).roomId;
    const via = viaServers(request.query); // federation joins
    return { room_id: await membership.knock(userId, roomId, reasonOf(request), via) };
  });

  router.client('POST', '/rooms/:roomId/forget', { auth: 'required' }, async (request) => {
    await membership.forget(ownerOf(request).userId, params(request).roomId);
    return {};
  });

  router.client(
    'POST',
    '/rooms/:roomId/leave',
    { auth: 'required', guest: true },
    async (request) => {
      await membership.leave(ownerOf(request).userId, params(request).roomId, reasonOf(request));
      return {};
    },
  );
  for (const action of MEMBER_ACTIONS) {
    router.client('POST', `/rooms/:roomId/${action}`, { auth: 'required' }, async (request) => {
      const body = objectBody(request.body);
      if (action === 'invite') refuseThirdPartyInvite(body);
      const target = requiredString(body, 'user_id');
      if (!isValidUserId(target)) throw errors.invalidParam('user_id is not a valid user ID');
      const { userId } = ownerOf(request);
      const reason = optionalString(body, 'reason');
      await membership.act(action, userId, params(request).roomId, target, reason);
      return {};
    });
  }
}

/** A `membership`-like query parameter: one of the spec's memberships, or absent. */
function membershipParam(query: unknown, name: string): string | undefined {
  const value = queryString(query, name);
  if (value !== undefined && !MEMBERSHIPS.includes(value)) {
    throw errors.invalidParam(`${name} must be one of ${MEMBERSHIPS.join(', ')}`);
  }
  return value;
}

function parseCreateRoom(creator: string, body: Record<string, unknown>) {
  const preset = optionalString(body, 'preset');
  if (preset !== undefined && !PRESETS.includes(preset))
    throw errors.invalidParam(`Unknown preset ${preset}`);
  const visibility = optionalString(body, 'visibility') ?? 'private';
  if (visibility !== 'public' && visibility !== 'private') {
    throw errors.invalidParam('visibility must be public or private');
  }
  const invite = body.invite ?? [];
  if (!Array.isArray(invite) || !invite.every((u) => typeof u === 'string')) {
    throw errors.badJson('invite must be an array of user IDs');
  }
  // Refused rather than dropped, so nobody thinks the invites went out: /invite takes user IDs only.
  const invite3pid = body.invite_3pid ?? [];
  if (!Array.isArray(invite3pid)) throw errors.badJson('invite_3pid must be an array');
  if (invite3pid.length > 0) {
    throw errors.invalidParam(
      'invite_3pid: third-party invites need an identity server, not used here',
    );
  }
  return {
    creator,
    roomVersion: optionalString(body, 'room_version'),
    preset: preset as Preset | undefined,
    visibility: visibility as 'public' | 'private',
    creationContent: (optionalObject(body, 'creation_content') ?? {}) as JsonObject,
    powerLevelOverride: optionalObject(body, 'power_level_content_override') as
      JsonObject | undefined,
    initialState: parseInitialState(body.initial_state),
    name: optionalString(body, 'name'),
    topic: optionalString(body, 'topic'),
    roomAliasName: optionalString(body, 'room_alias_name'),
    invite: invite as string[],
    isDirect: optionalBoolean(body, 'is_direct') ?? false,
  };
}

function parseInitialState(value: unknown): EventDraft[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw errors.badJson('initial_state must be an array');
  return value.map((entry: unknown) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw errors.badJson('initial_state entries must be objects');
    }
    const event = entry as JsonObject;
    const content = optionalObject(event, 'content');
    if (!content) throw errors.missingParam('initial_state[].content');
    return {
      type: requiredString(event, 'type'),
      stateKey: optionalString(event, 'state_key') ?? '',
      content: content as JsonObject,
    };
  });
}

/** `content.redacts` of a redaction sent through /send (any room version). */
function redactsOf(content: JsonObject): string {
  const redacts = content.redacts;
  if (typeof redacts !== 'string') throw errors.missingParam('redacts');
  return redacts;
}

// --- federation joins: `via` (v1.12+) and the older `server_name`, each one or repeated ---
function viaServers(query: unknown): string[] {
  const record = (query ?? {}) as Record<string, unknown>;
  return [record.via, record.server_name].flatMap((value) =>
    (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string'),
  );
}
