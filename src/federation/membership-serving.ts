/**
 * The membership handshakes other servers make with us (server-server API,
 * "Joining Rooms", "Knocking upon a room", "Leaving Rooms", "Inviting to a
 * room"): `make_join` / `make_leave` / `make_knock` hand the remote user's
 * server a template built on our room's head; `send_join` / `send_leave` /
 * `send_knock` take the signed event back, check it as any received PDU
 * (format, signatures, hash, auth against its auth events and the state
 * before it) and store it as an event of our room from a remote sender; an
 * `invite` of one of our users is checked, signed by us and stored so /sync
 * shows it.
 *
 * A server the room's server ACL denies is refused every one of them (403
 * M_FORBIDDEN, server-acl.ts); for an invite to a room we do not hold, there
 * is no ACL to apply.
 *
 * Not done: partial state joins (MSC3706 `omit_members` is read and ignored:
 * every answer has `members_omitted: false`); third-party invites.
 */
import { authEventTypesFor, stateMapKey } from '../events/auth-rules.js';
import { serverNameOf } from '../events/auth/ids.js';
import type { JsonObject, Pdu, StoredEvent } from '../events/pdu.js';
import type { StateIds } from '../events/records.js';
import { ROOM_VERSIONS, roomVersion, type RoomVersion } from '../events/room-versions.js';
import { signEvent } from '../events/signing.js';
import { authChain } from '../events/state-resolution.js';
import type { SigningKey } from '../crypto/server-keys.js';
import { errors, MatrixError } from '../protocol/errors.js';
import { blocksInvites, type InvitePermissionStorage } from '../rooms/invite-permission.js';
import { restrictedJoinAuthoriser, type RestrictedJoinStorage } from '../rooms/restricted-join.js';
import { selectAuthEvents } from '../rooms/room-service.js';
import type { RoomStore } from '../storage/storage.js';
import type { UserReader } from '../storage/readers.js';
import {
  authRefusal,
  impliedAuthEventIds,
  MembershipChecks,
  type VerifiedPdu,
} from './membership-checks.js';
import type { MembershipWriter } from './membership-writer.js';
import type { ServerAclCheck } from './server-acl.js';

export type HandshakeMembership = 'join' | 'leave' | 'knock';

/** The state types a knock's or invite's stripped state carries (the client-server spec's list). */
export const STRIPPED_STATE_TYPES = [
  'm.room.create',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.join_rules',
  'm.room.canonical_alias',
  'm.room.encryption',
];

export type MembershipServingStorage = {
  rooms: Pick<
    RoomStore,
    | 'getRoom'
    | 'heldEvents'
    | 'getEvents'
    | 'forwardExtremities'
    | 'currentStateIds'
    | 'currentStateIdsFor'
    | 'hasJoinedMember'
  >;
  users: UserReader;
} & RestrictedJoinStorage &
  InvitePermissionStorage;

export interface MembershipServingDeps {
  serverName: string;
  signingKey: SigningKey;
  storage: MembershipServingStorage;
  checks: MembershipChecks;
  writer: MembershipWriter;
  /** The room's server ACL; absent: no server is refused by one. */
  acl?: Pick<ServerAclCheck, 'requireAllowed'>;
}

export interface SendJoinAnswer {
  origin: string;
  event: JsonObject;
  state: JsonObject[];
  auth_chain: JsonObject[];
  members_omitted: false;
  servers_in_room: string[];
}

export class MembershipServing {
  constructor(private readonly deps: MembershipServingDeps) {}

  /** `GET /v1/make_{join,leave,knock}/{roomId}/{userId}`: the template to sign. */
  async makeMembership(
    origin: string,
    roomId: string,
    userId: string,
    membership: HandshakeMembership,
    supportedVersions: readonly string[],
  ): Promise<{ event: JsonObject; room_version: string }> {
    if (serverNameOf(userId) !== origin) {
      throw errors.forbidden(`${userId} is not a user of ${origin}`);
    }
    const { version } = await this.residentRoom(roomId);
    await this.deps.acl?.requireAllowed(roomId, origin);
    if (membership !== 'leave' && !supportedVersions.includes(version.id)) {
      throw new MatrixError(
        400,
        'M_INCOMPATIBLE_ROOM_VERSION',
        `Your server does not support room version ${version.id}`,
        { room_version: version.id },
      );
    }
    const content: JsonObject = { membership };
    if (membership === 'join') await this.addAuthoriser(roomId, userId, content);
    const template = await this.template(roomId, version, userId, content);
    return { event: template as unknown as JsonObject, room_version: version.id };
  }

  /** `PUT /v2/send_join`: the join stored, and the room's state before it. */
  async sendJoin(
    origin: string,
    roomId: string,
    eventId: string,
    json: unknown,
  ): Promise<SendJoinAnswer> {
    const { event, stateBefore, version } = await this.receive(
      origin,
      roomId,
      eventId,
      json,
      'join',
    );
    const stateEvents = await this.deps.storage.rooms.getEvents([...stateBefore.values()]);
    const chain = await authChain(
      [...stateBefore.values()],
      (ids) => this.deps.storage.rooms.heldEvents(ids),
      version,
    );
    return {
      origin: this.deps.serverName,
      event: asJson(event.pdu),
      state: stateEvents.map((e) => asJson(e.pdu)),
      auth_chain: chain.map((e) => asJson(e.pdu)),
      members_omitted: false,
      servers_in_room: serversOf(stateEvents, event),
    };
  }

  /** `PUT /v2/send_leave`: the leave stored. */
  async sendLeave(origin: string, roomId: string, eventId: string, json: unknown): Promise<object> {
    await this.receive(origin, roomId, eventId, json, 'leave');
    return {};
  }

  /** `PUT /v1/send_knock`: the knock stored; the room's stripped state for the knocker. */
  async sendKnock(
    origin: string,
    roomId: string,
    eventId: string,
    json: unknown,
  ): Promise<{ knock_room_state: JsonObject[] }> {
    const { stateBefore } = await this.receive(origin, roomId, eventId, json, 'knock');
    return { knock_room_state: await this.strippedState(stateBefore) };
  }

  /**
   * `PUT /v2/invite`: an invite of one of our users, checked and signed by us;
   * stored in the stream (so /sync shows it, with the room state it came with)
   * unless we are in the room, where its /send will place it.
   */
  async receiveInvite(
    origin: string,
    roomId: string,
    eventId: string,
    body: unknown,
  ): Promise<{ event: JsonObject }> {
    await this.deps.acl?.requireAllowed(roomId, origin);
    const { versionId, json, roomState } = parseInviteBody(body);
    const version = ROOM_VERSIONS.get(versionId);
    if (!version) {
      throw new MatrixError(
        400,
        'M_INCOMPATIBLE_ROOM_VERSION',
        `Room version ${versionId} is not supported`,
        {
          room_version: versionId,
        },
      );
    }
    const invitee = await this.checkInvite(origin, roomId, eventId, json, version);
    const signed = signEvent(invitee.pdu, this.deps.serverName, this.deps.signingKey, version);
    const stored: StoredEvent = {
      eventId,
      pdu: { ...signed, unsigned: { ...(signed.unsigned ?? {}), invite_room_state: roomState } },
    };
    if (await this.deps.storage.rooms.hasJoinedMember(roomId, this.deps.serverName)) {
      await this.deps.writer.persistOutlier(roomId, stored);
    } else {
      const creator = creatorOf(roomState) ?? invitee.pdu.sender;
      await this.deps.writer.persistStateless({ roomId, version: version.id, creator }, stored);
    }
    return { event: asJson(signed) };
  }

  private async checkInvite(
    origin: string,
    roomId: string,
    eventId: string,
    json: unknown,
    version: RoomVersion,
  ): Promise<VerifiedPdu> {
    const checked = await this.deps.checks.verify(json, version, roomId);
    if (!checked.ok) throw errors.badJson(checked.reason);
    const event = checked.value;
    const { pdu } = event;
    if (event.eventId !== eventId)
      throw errors.invalidParam('The event ID does not match the event');
    if (pdu.type !== 'm.room.member' || pdu.content.membership !== 'invite') {
      throw errors.invalidParam('The event is not an invite');
    }
    const invitee = pdu.state_key ?? '';
    if (serverNameOf(invitee) !== this.deps.serverName) {
      throw errors.forbidden(`${invitee} is not a user of this server`);
    }
    if (serverNameOf(pdu.sender) !== origin) {
      throw errors.forbidden(`The inviter is not a user of ${origin}`);
    }
    if (!(await this.deps.storage.users.getUser(invitee))) throw errors.notFound('Unknown user');
    if (await blocksInvites(this.deps.storage, invitee)) {
      throw new MatrixError(403, 'M_INVITE_BLOCKED', `${invitee} does not accept invites`);
    }
    return event;
  }

  /** The room, which we must be in to build on (else 404, as Synapse). */
  private async residentRoom(roomId: string): Promise<{ version: RoomVersion }> {
    const room = await this.deps.storage.rooms.getRoom(roomId);
    const resident =
      room !== undefined &&
      (await this.deps.storage.rooms.hasJoinedMember(roomId, this.deps.serverName));
    if (!room || !resident) throw errors.notFound('Unknown room');
    return { version: roomVersion(room.version) };
  }

  /** A restricted join names one of our users with the power to invite (we sign for them). */
  private async addAuthoriser(roomId: string, userId: string, content: JsonObject): Promise<void> {
    const authoriser = await restrictedJoinAuthoriser(this.deps.storage, roomId, userId);
    if (authoriser === undefined) return;
    if (serverNameOf(authoriser) !== this.deps.serverName) {
      throw new MatrixError(
        400,
        'M_UNABLE_TO_GRANT_JOIN',
        'Ask a server with a member who may invite',
      );
    }
    content.join_authorised_via_users_server = authoriser;
  }

  private async template(
    roomId: string,
    version: RoomVersion,
    userId: string,
    content: JsonObject,
  ): Promise<Omit<Pdu, 'hashes' | 'signatures'>> {
    const pdu = await memberEventOnHead(this.deps.storage.rooms, roomId, version, {
      sender: userId,
      stateKey: userId,
      content,
    });
    // A template carries neither hashes nor signatures: the joining server adds both.
    const template: Partial<Pdu> = { ...pdu };
    delete template.hashes;
    delete template.signatures;
    // The spec's template names the resident server (`origin`), as Synapse's does.
    return { ...template, origin: this.deps.serverName } as Omit<Pdu, 'hashes' | 'signatures'>;
  }

  /** The send_* steps: the event checked, signed by us for a restricted join, and stored. */
  private async receive(
    origin: string,
    roomId: string,
    eventId: string,
    json: unknown,
    membership: HandshakeMembership,
  ): Promise<{ event: StoredEvent; stateBefore: StateIds; version: RoomVersion }> {
    const { version } = await this.residentRoom(roomId);
    await this.deps.acl?.requireAllowed(roomId, origin);
    const event = await this.checkHandshakeEvent(
      origin,
      roomId,
      eventId,
      json,
      membership,
      version,
    );
    const [held] = await this.deps.storage.rooms.heldEvents([eventId]);
    if (held && !held.outlier && !held.rejectedReason) {
      const before = await this.deps.writer.stateBeforeEvent(version, held.pdu.prev_events);
      return { event: held, stateBefore: before, version };
    }
    const stateBefore = await this.deps.writer
      .stateBeforeEvent(version, event.pdu.prev_events)
      .catch(() => {
        throw errors.badJson('The prev_events of the event are not known here');
      });
    await this.authorize(event, version, stateBefore);
    const stored = { eventId: event.eventId, pdu: event.pdu };
    await this.deps.writer.persistInRoom(roomId, stored, stateBefore);
    return { event: stored, stateBefore, version };
  }

  private async checkHandshakeEvent(
    origin: string,
    roomId: string,
    eventId: string,
    json: unknown,
    membership: HandshakeMembership,
    version: RoomVersion,
  ): Promise<VerifiedPdu> {
    const signedByUs = this.signedIfAuthorisedHere(json, membership, version);
    const checked = await this.deps.checks.verify(signedByUs, version, roomId);
    if (!checked.ok) throw errors.badJson(checked.reason);
    const event = checked.value;
    const { pdu } = event;
    if (event.eventId !== eventId)
      throw errors.invalidParam('The event ID does not match the event');
    if (pdu.type !== 'm.room.member' || pdu.state_key !== pdu.sender) {
      throw errors.invalidParam(`The event is not a ${membership} of its sender`);
    }
    if (pdu.content.membership !== membership) {
      throw errors.invalidParam(`The event's membership is not ${membership}`);
    }
    if (serverNameOf(pdu.sender) !== origin) {
      throw errors.forbidden(`${pdu.sender} is not a user of ${origin}`);
    }
    return event;
  }

  /** A restricted join our user authorises gets our signature before it is checked. */
  private signedIfAuthorisedHere(json: unknown, membership: string, version: RoomVersion): unknown {
    if (membership !== 'join' || typeof json !== 'object' || json === null) return json;
    const pdu = json as Pdu;
    const authoriser = pdu.content?.join_authorised_via_users_server;
    if (typeof authoriser !== 'string' || serverNameOf(authoriser) !== this.deps.serverName) {
      return json;
    }
    try {
      return signEvent(pdu, this.deps.serverName, this.deps.signingKey, version);
    } catch {
      return json;
    }
  }

  private async authorize(event: VerifiedPdu, version: RoomVersion, stateBefore: StateIds) {
    const { rooms } = this.deps.storage;
    const listed = await rooms.heldEvents(event.pdu.auth_events);
    const implied = await rooms.heldEvents(impliedAuthEventIds(event, version));
    if (listed.length !== event.pdu.auth_events.length || listed.some((e) => e.rejectedReason)) {
      throw errors.forbidden('The auth events of the event are unknown or rejected here');
    }
    const pairs = authEventTypesFor(event.pdu, version);
    const ids = pairs.flatMap((p) => stateBefore.get(stateMapKey(p.type, p.stateKey)) ?? []);
    const createId = stateBefore.get(stateMapKey('m.room.create', ''));
    const stateEvents = await rooms.heldEvents([
      ...new Set([...ids, ...(createId ? [createId] : [])]),
    ]);
    const refusal = authRefusal(event, version, { listed, implied }, stateEvents);
    if (refusal) throw errors.forbidden(refusal);
  }

  /** The stripped state of a room as PDUs (v1.16+: the create event among them). */
  async strippedState(state: StateIds): Promise<JsonObject[]> {
    const ids = STRIPPED_STATE_TYPES.flatMap((type) => state.get(stateMapKey(type, '')) ?? []);
    const events = await this.deps.storage.rooms.getEvents(ids);
    return events.map((e) => asJson(e.pdu));
  }
}

/**
 * A member event on the room's forward extremities and current state (as
 * storage holds them), with its auth events; refused (403) now if the auth
 * rules would refuse it, signatures aside (none exist yet).
 */
export async function memberEventOnHead(
  rooms: MembershipServingStorage['rooms'],
  roomId: string,
  version: RoomVersion,
  draft: { sender: string; stateKey: string; content: JsonObject },
): Promise<Pdu> {
  const extremities = await rooms.forwardExtremities(roomId);
  const pdu: Pdu = {
    type: 'm.room.member',
    room_id: roomId,
    sender: draft.sender,
    state_key: draft.stateKey,
    content: draft.content,
    origin_server_ts: Date.now(),
    prev_events: extremities.map((e) => e.eventId),
    auth_events: [],
    depth: Math.max(0, ...extremities.map((e) => e.depth)) + 1,
    hashes: { sha256: '' },
    signatures: {},
  };
  const state = await rooms.currentStateIdsFor(roomId, authEventTypesFor(pdu, version));
  pdu.auth_events = selectAuthEvents(pdu, state, version);
  const listed = await rooms.heldEvents(pdu.auth_events);
  const implied = await rooms.heldEvents(impliedAuthEventIds({ eventId: '', pdu }, version));
  const everyoneSigned = { eventId: '', roomId, pdu, signers: new AllServers() };
  const refusal = authRefusal(everyoneSigned, version, { listed, implied });
  if (refusal) throw errors.forbidden(refusal);
  return pdu;
}

/** Everyone "signed": a template is judged before any signature exists. */
class AllServers extends Set<string> {
  override has(): boolean {
    return true;
  }
}

function parseInviteBody(body: unknown): {
  versionId: string;
  json: unknown;
  roomState: JsonObject[];
} {
  if (typeof body !== 'object' || body === null) throw errors.badJson('The body must be an object');
  const { room_version: versionId, event, invite_room_state: roomState } = body as JsonObject;
  if (typeof versionId !== 'string') throw errors.missingParam('room_version');
  if (typeof event !== 'object' || event === null) throw errors.missingParam('event');
  if (roomState !== undefined && !Array.isArray(roomState)) {
    throw errors.badJson('invite_room_state must be an array');
  }
  const objects = (roomState ?? []).filter(
    (e): e is JsonObject => typeof e === 'object' && e !== null && !Array.isArray(e),
  );
  return { versionId, json: event, roomState: objects };
}

function creatorOf(roomState: JsonObject[]): string | undefined {
  const create = roomState.find((e) => e.type === 'm.room.create');
  return typeof create?.sender === 'string' ? create.sender : undefined;
}

/** The servers with a joined member in the state (the joining server included). */
function serversOf(stateEvents: StoredEvent[], join: StoredEvent): string[] {
  const servers = new Set<string>();
  for (const { pdu } of [...stateEvents, join]) {
    if (pdu.type !== 'm.room.member' || pdu.content.membership !== 'join') continue;
    const server = serverNameOf(pdu.state_key ?? '');
    if (server) servers.add(server);
  }
  return [...servers];
}

/** A PDU as served: without what only this server keeps in `unsigned`. */
export function asJson(pdu: Pdu): JsonObject {
  const served: Partial<Pdu> = { ...pdu };
  delete served.unsigned;
  return served as unknown as JsonObject;
}
