/** Rooms: creation, sending events, state, membership, reading events. */
import type { FastifyRequest } from 'fastify';
import { MemberProfiles } from '../../account/member-profiles.js';
import { stateMapKey } from '../../events/auth/auth-state.js';
import { isValidUserId } from '../../events/auth/ids.js';
import type { JsonObject } from '../../events/pdu.js';
import { errors, MatrixError } from '../../http/errors.js';
import {
  objectBody,
  optionalBoolean,
  optionalObject,
  optionalString,
  queryString,
  requiredString,
} from '../../http/params.js';
import { ownerOf, type Router } from '../../http/router.js';
import { createRoom, type Preset } from '../../rooms/create-room.js';
import { currentMembership, currentStateEvent } from '../../rooms/current-membership.js';
import { DirectoryService, parseAlias } from '../../rooms/directory-service.js';
import type { EventDraft } from '../../rooms/room-service.js';
import type { StateIds } from '../../storage/storage.js';
import { upgradeRoom } from '../../rooms/upgrade-room.js';
import { restrictedJoinAuthoriser } from '../../rooms/restricted-join.js';
import type { ClientApiServices } from './services.js';

const PRESETS: readonly string[] = ['private_chat', 'public_chat', 'trusted_private_chat'];
const CANONICAL_ALIAS = 'm.room.canonical_alias';
const MEMBERSHIPS: readonly string[] = ['join', 'invite', 'knock', 'leave', 'ban'];
/** A kick removes a member, rescinds an invite or refuses a knock. */
const KICKABLE: readonly string[] = ['join', 'invite', 'knock'];

interface RoomParams {
  roomId: string;
  eventType?: string;
  stateKey?: string;
  txnId?: string;
  eventId?: string;
}

export function registerRoomRoutes(router: Router, services: ClientApiServices): void {
  const { rooms, storage, views } = services.roomDeps;
  const params = (request: FastifyRequest) => request.params as RoomParams;
  const directory = new DirectoryService(services.config, storage, rooms);
  const memberProfiles = new MemberProfiles(storage.profiles, services.config.server_name);

  /**
   * The state the user may read: the current state for a member (and in a
   * world-readable room), the state when they left for a former member
   * ("If the user has left the room then the state is taken from the state of
   * the room when they left"); 403 for anyone else.
   */
  async function readableState(roomId: string, userId: string): Promise<StateIds> {
    const history = services.syncDeps.history;
    const upTo = await history.readableUpTo(roomId, userId, Number.MAX_SAFE_INTEGER);
    return upTo === Number.MAX_SAFE_INTEGER
      ? storage.rooms.currentStateIds(roomId)
      : storage.rooms.stateIdsAt(roomId, upTo);
  }

  /**
   * room_state.yaml: the aliases an m.room.canonical_alias event adds must be
   * valid (400 M_INVALID_PARAM) and point to the room (400 M_BAD_ALIAS); those
   * already listed, or removed, are not checked. Without federation another
   * server's alias cannot be looked up, so it cannot be shown to point here.
   */
  async function checkNewAliases(roomId: string, content: JsonObject): Promise<void> {
    const current = await currentStateEvent(storage, roomId, CANONICAL_ALIAS, '');
    const listed = new Set(current ? aliasesIn(current.pdu.content) : []);
    const alt = content.alt_aliases;
    if (alt !== undefined && !Array.isArray(alt))
      throw errors.invalidParam('alt_aliases must be an array');
    for (const alias of aliasesIn(content)) {
      if (listed.has(alias)) continue;
      if (typeof alias !== 'string') throw errors.invalidParam('Aliases must be strings');
      parseAlias(alias);
      if ((await storage.directory.getAlias(alias))?.roomId !== roomId) {
        throw new MatrixError(400, 'M_BAD_ALIAS', `The alias ${alias} does not point to this room`);
      }
    }
  }

  /** 403 unless the user is joined: Weft serves room contents to members only for now. */
  async function requireJoined(roomId: string, userId: string): Promise<void> {
    await rooms.requireRoom(roomId);
    if ((await currentMembership(storage, roomId, userId)) !== 'join') {
      throw errors.forbidden('You are not in this room');
    }
  }

  async function sendMembership(
    request: FastifyRequest,
    target: string,
    membership: string,
    roomId = params(request).roomId,
    extra: JsonObject = {},
  ) {
    const owner = ownerOf(request);
    const body = objectBody(request.body, { allowEmpty: true });
    const reason = optionalString(body, 'reason');
    const content: JsonObject = { ...extra, membership };
    if (reason !== undefined) content.reason = reason;
    const draft = { type: 'm.room.member', stateKey: target, content };
    await rooms.send(roomId, owner.userId, await memberProfiles.complete(draft));
    return {};
  }

  router.client('POST', '/createRoom', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body, { allowEmpty: true });
    const roomId = await createRoom(
      parseCreateRoom(owner.userId, body),
      services.config,
      storage,
      rooms,
    );
    return { room_id: roomId };
  });

  router.client('POST', '/rooms/:roomId/upgrade', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const body = objectBody(request.body);
    const extra = body.additional_creators ?? [];
    if (!Array.isArray(extra) || !extra.every((u) => typeof u === 'string')) {
      throw errors.badJson('additional_creators must be an array of user IDs');
    }
    const replacement = await upgradeRoom(
      {
        roomId: params(request).roomId,
        userId: owner.userId,
        newVersion: requiredString(body, 'new_version'),
        additionalCreators: extra as string[],
      },
      services.config,
      storage,
      rooms,
    );
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
      const event =
        eventType === 'm.room.redaction'
          ? await rooms.redact(roomId, owner.userId, redactsOf(content), content, txn)
          : await rooms.send(roomId, owner.userId, { type: eventType!, content }, txn);
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
      const reason = optionalString(objectBody(request.body, { allowEmpty: true }), 'reason');
      const content: JsonObject = reason === undefined ? {} : { reason };
      const txn = {
        userId: owner.userId,
        deviceId: owner.deviceId,
        endpoint: `redact/${roomId}/${eventId!}`,
        txnId: txnId!,
      };
      const event = await rooms.redact(roomId, owner.userId, eventId!, content, txn);
      return { event_id: event.eventId };
    },
  );

  const putState = async (request: FastifyRequest) => {
    const owner = ownerOf(request);
    const { roomId, eventType, stateKey = '' } = params(request);
    const content = objectBody(request.body) as JsonObject;
    if (eventType === CANONICAL_ALIAS && stateKey === '') {
      await checkNewAliases(roomId, content);
    }
    // A state event may carry a relation too: the same rules (no thread off a thread event).
    await services.relations.checkSend(roomId, eventType!, content, owner.userId);
    // A member event sent as state gets the profile too, where its content leaves it out.
    const draft = await memberProfiles.complete({ type: eventType!, stateKey, content });
    const event = await rooms.send(roomId, owner.userId, draft);
    return { event_id: event.eventId };
  };
  router.client(
    'PUT',
    '/rooms/:roomId/state/:eventType',
    { auth: 'required', guest: true },
    putState,
  );
  router.client(
    'PUT',
    '/rooms/:roomId/state/:eventType/:stateKey',
    { auth: 'required', guest: true },
    putState,
  );

  const getState = async (request: FastifyRequest) => {
    const owner = ownerOf(request);
    const { roomId, eventType, stateKey = '' } = params(request);
    const format = queryString(request.query, 'format') ?? 'content';
    if (format !== 'content' && format !== 'event') {
      throw errors.invalidParam('format must be content or event');
    }
    const state = await readableState(roomId, owner.userId);
    const eventId = state.get(stateMapKey(eventType!, stateKey));
    const event = eventId === undefined ? undefined : await storage.rooms.getEvent(eventId);
    if (!event) throw errors.notFound('No such state event');
    // As served everywhere else: a redacted state event has its content stripped.
    const served = await views.one(event, owner);
    return format === 'event' ? served : served.content;
  };
  router.client(
    'GET',
    '/rooms/:roomId/state/:eventType',
    { auth: 'required', guest: true },
    getState,
  );
  router.client(
    'GET',
    '/rooms/:roomId/state/:eventType/:stateKey',
    { auth: 'required', guest: true },
    getState,
  );

  router.client(
    'GET',
    '/rooms/:roomId/state',
    { auth: 'required', guest: true },
    async (request) => {
      const owner = ownerOf(request);
      const { roomId } = params(request);
      const ids = [...(await readableState(roomId, owner.userId)).values()];
      return views.forClient(await storage.rooms.getEvents(ids), owner);
    },
  );

  router.client(
    'GET',
    '/rooms/:roomId/event/:eventId',
    { auth: 'required', guest: true },
    async (request) => {
      const { roomId, eventId } = params(request);
      return services.syncDeps.history.event(ownerOf(request), roomId, eventId!);
    },
  );

  /** The room's current m.room.member events. */
  async function memberEvents(roomId: string) {
    const ids = [...(await storage.rooms.currentStateIds(roomId)).values()];
    return (await storage.rooms.getEvents(ids)).filter((e) => e.pdu.type === 'm.room.member');
  }

  router.client(
    'GET',
    '/rooms/:roomId/members',
    { auth: 'required', guest: true },
    async (request) => {
      const owner = ownerOf(request);
      const { roomId } = params(request);
      const membership = membershipParam(request.query, 'membership');
      const notMembership = membershipParam(request.query, 'not_membership');
      const at = queryString(request.query, 'at');
      // Both filters apply together. The spec's text says "or", but no server does that
      // (Synapse, Dendrite and Conduit all AND them: matrix-spec issue #2308).
      const members = (await services.syncDeps.history.members(owner, roomId, at))
        .filter((e) => membership === undefined || e.pdu.content.membership === membership)
        .filter((e) => notMembership === undefined || e.pdu.content.membership !== notMembership);
      return { chunk: await views.forClient(members, owner) };
    },
  );

  router.client('GET', '/rooms/:roomId/joined_members', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const { roomId } = params(request);
    await requireJoined(roomId, owner.userId);
    const joined: Record<string, JsonObject> = {};
    for (const event of await memberEvents(roomId)) {
      if (event.pdu.content.membership !== 'join') continue;
      const { displayname, avatar_url: avatarUrl } = event.pdu.content;
      const profile: JsonObject = {};
      if (typeof displayname === 'string') profile.display_name = displayname;
      if (typeof avatarUrl === 'string') profile.avatar_url = avatarUrl;
      joined[event.pdu.state_key!] = profile;
    }
    return { joined };
  });

  router.client('GET', '/joined_rooms', { auth: 'required' }, async (request) => ({
    joined_rooms: await storage.rooms.roomsWithMembership(ownerOf(request).userId, 'join'),
  }));

  const join = async (request: FastifyRequest, roomId: string) => {
    const owner = ownerOf(request);
    if (owner.isGuest) await requireGuestAccess(roomId);
    const authoriser = await restrictedJoinAuthoriser(storage, roomId, owner.userId);
    const extra: JsonObject = authoriser ? { join_authorised_via_users_server: authoriser } : {};
    await sendMembership(request, owner.userId, 'join', roomId, extra);
    return { room_id: roomId };
  };
  router.client('POST', '/rooms/:roomId/join', { auth: 'required', guest: true }, (request) => {
    const roomId = params(request).roomId;
    // IDs only here: aliases go through /join/{roomIdOrAlias}.
    if (!roomId.startsWith('!')) throw errors.notFound('Unknown room');
    return join(request, roomId);
  });
  // The path names a room ID or a room alias (the parameter keeps the name roomId).
  router.client('POST', '/join/:roomId', { auth: 'required', guest: true }, async (request) => {
    const target = params(request).roomId;
    const roomId = target.startsWith('#') ? (await directory.resolve(target)).room_id : target;
    return join(request, roomId);
  });

  // Knocking asks to be invited; the auth rules allow it only where the join rule says knock.
  router.client('POST', '/knock/:roomId', { auth: 'required' }, async (request) => {
    const target = params(request).roomId;
    const roomId = target.startsWith('#') ? (await directory.resolve(target)).room_id : target;
    await sendMembership(request, ownerOf(request).userId, 'knock', roomId);
    return { room_id: roomId };
  });

  router.client('POST', '/rooms/:roomId/forget', { auth: 'required' }, async (request) => {
    const owner = ownerOf(request);
    const { roomId } = params(request);
    const membership = await currentMembership(storage, roomId, owner.userId);
    if (membership === undefined) throw errors.notFound('You were never in this room');
    if (membership === 'join' || membership === 'invite' || membership === 'knock') {
      throw errors.unknown('Leave the room before forgetting it');
    }
    await storage.rooms.forgetRoom(owner.userId, roomId);
    return {};
  });

  router.client('POST', '/rooms/:roomId/leave', { auth: 'required', guest: true }, (request) =>
    sendMembership(request, ownerOf(request).userId, 'leave'),
  );
  for (const [action, membership] of [
    ['invite', 'invite'],
    ['kick', 'leave'],
    ['ban', 'ban'],
    ['unban', 'leave'],
  ] as const) {
    router.client('POST', `/rooms/:roomId/${action}`, { auth: 'required' }, async (request) => {
      const target = requiredString(objectBody(request.body), 'user_id');
      if (!isValidUserId(target)) throw errors.invalidParam('user_id is not a valid user ID');
      // Both send a leave, which the auth rules would also allow from a banned or absent
      // target: an unban must lift a ban, a kick must remove someone there (as Synapse).
      const { roomId } = params(request);
      await rooms.requireRoom(roomId);
      const current = await currentMembership(storage, roomId, target);
      if (action === 'unban' && current !== 'ban') {
        throw new MatrixError(403, 'M_BAD_STATE', `${target} is not banned`);
      }
      if (action === 'kick' && !KICKABLE.includes(current ?? '')) {
        throw new MatrixError(403, 'M_BAD_STATE', `${target} is not in the room`);
      }
      return sendMembership(request, target, membership);
    });
  }

  /** Guests join only rooms whose m.room.guest_access is can_join (guest access module). */
  async function requireGuestAccess(roomId: string): Promise<void> {
    const event = await currentStateEvent(storage, roomId, 'm.room.guest_access', '');
    if (event?.pdu.content.guest_access !== 'can_join') throw errors.guestAccessForbidden();
  }
}

/** `alias` and `alt_aliases` of m.room.canonical_alias content, whatever their types. */
function aliasesIn(content: JsonObject): unknown[] {
  const { alias, alt_aliases: alt } = content;
  return [
    ...(alias === undefined || alias === null ? [] : [alias]),
    ...(Array.isArray(alt) ? alt : []),
  ];
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
