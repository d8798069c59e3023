/**
 * Our users' membership handshakes with other servers (server-server API,
 * "Joining Rooms", "Knocking upon a room", "Leaving Rooms", "Inviting to a
 * room"): make_* gives a template, we complete and sign it, send_* (v2 for
 * joins and leaves) takes it. A join's answer (the room's state and its auth
 * chain) is verified event by event (format, signatures, hash, each auth
 * chain event against its own auth events, oldest first) before the room is
 * stored: the auth chain and state as outliers, the join on that state.
 */
import type { Logger } from 'pino';
import { authEventTypesFor, stateMapKey } from '../events/auth-rules.js';
import { serverNameOf } from '../events/auth/ids.js';
import { eventIdFor } from '../events/hashing.js';
import type { JsonObject, Pdu, StoredEvent } from '../events/pdu.js';
import type { StateIds } from '../events/records.js';
import { ROOM_VERSIONS, roomVersion, type RoomVersion } from '../events/room-versions.js';
import { sealEvent } from '../events/signing.js';
import type { SigningKey } from '../crypto/server-keys.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { RemoteMembership } from '../rooms/remote-membership.js';
import {
  authRefusal,
  impliedAuthEventIds,
  type MembershipChecks,
  type VerifiedPdu,
} from './membership-checks.js';
import {
  asJson,
  memberEventOnHead,
  STRIPPED_STATE_TYPES,
  type MembershipServingStorage,
} from './membership-serving.js';
import type { MembershipWriter } from './membership-writer.js';
import type { FederationResponse, FederationSender } from './outbound.js';

const V1 = '/_matrix/federation/v1';
const V2 = '/_matrix/federation/v2';
/** A join of a big room waits for its whole state. */
const JOIN_TIMEOUT_MS = 120_000;

export interface RemoteMembershipDeps {
  serverName: string;
  signingKey: SigningKey;
  sender: FederationSender;
  checks: MembershipChecks;
  writer: MembershipWriter;
  storage: MembershipServingStorage;
  logger: Pick<Logger, 'info' | 'warn'>;
}

type Membership = 'join' | 'leave' | 'knock';

export class RemoteMembershipClient implements RemoteMembership {
  constructor(private readonly deps: RemoteMembershipDeps) {}

  async join(userId: string, roomId: string, servers: string[], content: JsonObject) {
    await this.throughFirst(servers, async (server) => {
      const { pdu, version } = await this.signedFromTemplate(
        server,
        roomId,
        userId,
        'join',
        content,
      );
      const eventId = eventIdOf(pdu, version);
      const answer = await this.call(
        server,
        'PUT',
        `${V2}/send_join/${enc(roomId)}/${enc(eventId)}`,
        pdu,
        JOIN_TIMEOUT_MS,
      );
      await this.storeJoin(roomId, version, { eventId, pdu }, answer);
    });
  }

  async knock(userId: string, roomId: string, servers: string[], content: JsonObject) {
    await this.throughFirst(servers, async (server) => {
      const { pdu, version } = await this.signedFromTemplate(
        server,
        roomId,
        userId,
        'knock',
        content,
      );
      const eventId = eventIdOf(pdu, version);
      const answer = await this.call(
        server,
        'PUT',
        `${V1}/send_knock/${enc(roomId)}/${enc(eventId)}`,
        pdu,
      );
      const state = (answer as JsonObject).knock_room_state;
      const knockState = Array.isArray(state) ? state : [];
      const stored = { eventId, pdu: { ...pdu, unsigned: { knock_room_state: knockState } } };
      await this.deps.writer.persistStateless(
        { roomId, version: version.id, creator: userId },
        stored,
      );
    });
  }

  async leave(userId: string, roomId: string, servers: string[], content: JsonObject) {
    await this.throughFirst(servers, async (server) => {
      const { pdu, version } = await this.signedFromTemplate(
        server,
        roomId,
        userId,
        'leave',
        content,
      );
      const eventId = eventIdOf(pdu, version);
      await this.call(server, 'PUT', `${V2}/send_leave/${enc(roomId)}/${enc(eventId)}`, pdu);
      await this.deps.writer.persistStateless(
        { roomId, version: version.id, creator: userId },
        { eventId, pdu },
      );
    });
  }

  async invite(inviter: string, roomId: string, invitee: string, content: JsonObject) {
    const room = await this.deps.storage.rooms.getRoom(roomId);
    if (!room) throw errors.notFound('Unknown room');
    const version = roomVersion(room.version);
    const draft = {
      sender: inviter,
      stateKey: invitee,
      content: { ...content, membership: 'invite' },
    };
    const unsignedPdu = await memberEventOnHead(this.deps.storage.rooms, roomId, version, draft);
    const { pdu } = sealEvent(unsignedPdu, this.deps.serverName, this.deps.signingKey, version);
    const eventId = eventIdOf(pdu, version);
    const state = await this.deps.storage.rooms.currentStateIds(roomId);
    const body: JsonObject = {
      room_version: version.id,
      event: asJson(pdu),
      invite_room_state: await this.strippedState(state),
    };
    const server = serverNameOf(invitee)!;
    const answer = await this.call(
      server,
      'PUT',
      `${V2}/invite/${enc(roomId)}/${enc(eventId)}`,
      body,
    );
    const signed = await this.deps.checks.verify((answer as JsonObject).event, version, roomId);
    const valid =
      signed.ok &&
      signed.value.eventId === eventId &&
      (await this.deps.checks.isSignedBy(signed.value, server, version));
    if (!signed.ok || !valid) {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} did not sign the invite`);
    }
    const stateBefore = await this.deps.writer.stateBeforeEvent(version, pdu.prev_events);
    await this.deps.writer.persistInRoom(roomId, { eventId, pdu: signed.value.pdu }, stateBefore);
  }

  async resolveAlias(alias: string): Promise<{ room_id: string; servers: string[] }> {
    const server = serverNameOf(alias);
    if (!server) throw errors.invalidParam(`${alias} is not a room alias`);
    const answer = await this.call(server, 'GET', `${V1}/query/directory?room_alias=${enc(alias)}`);
    const { room_id: roomId, servers } = answer as JsonObject;
    if (typeof roomId !== 'string') throw errors.notFound(`Room alias ${alias} not found`);
    const list = Array.isArray(servers)
      ? servers.filter((s): s is string => typeof s === 'string')
      : [];
    return { room_id: roomId, servers: list.length > 0 ? list : [server] };
  }

  /** Tries each server in turn; the last failure is the answer when none succeeds. */
  private async throughFirst(servers: string[], attempt: (server: string) => Promise<void>) {
    const candidates = [...new Set(servers)].filter((s) => s !== this.deps.serverName);
    if (candidates.length === 0) throw errors.notFound('No server to ask for this room');
    let last: unknown;
    for (const server of candidates) {
      try {
        await attempt(server);
        return;
      } catch (err) {
        this.deps.logger.info({ err, server }, 'federation: membership handshake failed');
        last = err;
      }
    }
    if (last instanceof MatrixError) throw last;
    throw new MatrixError(502, 'M_UNKNOWN', 'No server in the room could be reached');
  }

  /** make_{membership}, then the template completed with our content and signed. */
  private async signedFromTemplate(
    server: string,
    roomId: string,
    userId: string,
    membership: Membership,
    content: JsonObject,
  ): Promise<{ pdu: Pdu; version: RoomVersion }> {
    const ver = [...ROOM_VERSIONS.keys()].map((v) => `ver=${enc(v)}`).join('&');
    const query = membership === 'leave' ? '' : `?${ver}`;
    const answer = (await this.call(
      server,
      'GET',
      `${V1}/make_${membership}/${enc(roomId)}/${enc(userId)}${query}`,
    )) as JsonObject;
    const versionId = typeof answer.room_version === 'string' ? answer.room_version : undefined;
    const version = versionId === undefined ? undefined : ROOM_VERSIONS.get(versionId);
    if (!version)
      throw new MatrixError(
        400,
        'M_UNSUPPORTED_ROOM_VERSION',
        `The room's version is not supported here`,
      );
    const template = answer.event as unknown as Pdu | undefined;
    if (
      typeof template !== 'object' ||
      template === null ||
      template.type !== 'm.room.member' ||
      template.room_id !== roomId ||
      template.sender !== userId ||
      template.state_key !== userId ||
      !Array.isArray(template.prev_events) ||
      !Array.isArray(template.auth_events) ||
      typeof template.depth !== 'number'
    ) {
      throw new MatrixError(502, 'M_UNKNOWN', `${server} gave an unusable ${membership} template`);
    }
    const kept = template.content?.join_authorised_via_users_server;
    const pdu: Pdu = {
      type: 'm.room.member',
      room_id: roomId,
      sender: userId,
      state_key: userId,
      content: {
        ...content,
        ...(typeof kept === 'string' ? { join_authorised_via_users_server: kept } : {}),
        membership,
      },
      origin_server_ts: Date.now(),
      prev_events: template.prev_events,
      auth_events: template.auth_events,
      depth: template.depth,
      hashes: { sha256: '' },
      signatures: {},
    };
    return {
      pdu: sealEvent(pdu, this.deps.serverName, this.deps.signingKey, version).pdu,
      version,
    };
  }

  /** The send_join answer verified, then the room stored with our join on its state. */
  private async storeJoin(
    roomId: string,
    version: RoomVersion,
    ours: StoredEvent,
    answer: unknown,
  ) {
    const body = (typeof answer === 'object' && answer !== null ? answer : {}) as JsonObject;
    const stateJson = Array.isArray(body.state) ? body.state : [];
    const chainJson = Array.isArray(body.auth_chain) ? body.auth_chain : [];
    const accepted = await this.acceptedEvents(version, roomId, [...chainJson, ...stateJson]);
    const state: StateIds = new Map();
    for (const json of stateJson) {
      const id = idOfJson(json, version);
      const event = id === undefined ? undefined : accepted.get(id);
      if (event?.pdu.state_key !== undefined) {
        state.set(stateMapKey(event.pdu.type, event.pdu.state_key), event.eventId);
      }
    }
    const createId = state.get(stateMapKey('m.room.create', ''));
    const create = createId === undefined ? undefined : accepted.get(createId);
    if (!create)
      throw new MatrixError(502, 'M_UNKNOWN', 'The room state has no valid create event');
    const declared = create.pdu.content.room_version ?? '1';
    if (declared !== version.id) {
      throw new MatrixError(502, 'M_UNKNOWN', 'The room version does not match its create event');
    }
    const join = await this.joinAsReturned(version, roomId, ours, body.event);
    this.checkJoinAuth(version, join, accepted, state);
    const outliers = [...accepted.values()].map((e) => ({ eventId: e.eventId, pdu: e.pdu }));
    await this.deps.writer.persistJoinedRoom(
      { roomId, version: version.id, creator: create.pdu.sender },
      outliers,
      { eventId: join.eventId, pdu: join.pdu },
      state,
    );
  }

  /** A restricted join comes back signed by the resident too; else ours is the event. */
  private async joinAsReturned(
    version: RoomVersion,
    roomId: string,
    ours: StoredEvent,
    returned: unknown,
  ): Promise<VerifiedPdu> {
    const checked = await this.deps.checks.verify(returned ?? ours.pdu, version, roomId);
    if (checked.ok && checked.value.eventId === ours.eventId) return checked.value;
    const own = await this.deps.checks.verify(ours.pdu, version, roomId);
    if (!own.ok) throw new MatrixError(502, 'M_UNKNOWN', own.reason);
    return own.value;
  }

  private checkJoinAuth(
    version: RoomVersion,
    join: VerifiedPdu,
    accepted: Map<string, VerifiedPdu>,
    state: StateIds,
  ): void {
    const listed = join.pdu.auth_events.flatMap((id) => accepted.get(id) ?? []);
    const implied = impliedAuthEventIds(join, version).flatMap((id) => accepted.get(id) ?? []);
    const pairs = [
      { type: 'm.room.create', stateKey: '' },
      ...authEventTypesFor(join.pdu, version),
    ];
    const stateEvents = pairs.flatMap(
      (p) => accepted.get(state.get(stateMapKey(p.type, p.stateKey)) ?? '') ?? [],
    );
    const refusal = authRefusal(join, version, { listed, implied }, stateEvents);
    if (refusal) throw new MatrixError(403, 'M_FORBIDDEN', `The join is not allowed: ${refusal}`);
  }

  /**
   * The events of the answer that pass their checks: format, signatures, hash,
   * then oldest first the auth rules against their own auth events (which
   * must be accepted before them). The others are dropped, as the spec says.
   */
  private async acceptedEvents(
    version: RoomVersion,
    roomId: string,
    jsons: unknown[],
  ): Promise<Map<string, VerifiedPdu>> {
    const verified = new Map<string, VerifiedPdu>();
    for (const json of jsons) {
      const checked = await this.deps.checks.verify(json, version, roomId);
      if (checked.ok) verified.set(checked.value.eventId, checked.value);
      else
        this.deps.logger.warn(
          { roomId, reason: checked.reason },
          'federation: send_join event dropped',
        );
    }
    const ordered = [...verified.values()].sort(
      (a, b) => a.pdu.depth - b.pdu.depth || (a.eventId < b.eventId ? -1 : 1),
    );
    const accepted = new Map<string, VerifiedPdu>();
    for (const event of ordered) {
      const listed = event.pdu.auth_events.map((id) => accepted.get(id));
      const implied = impliedAuthEventIds(event, version).map((id) => accepted.get(id));
      if (listed.some((e) => !e) || implied.some((e) => !e)) continue;
      const refusal = authRefusal(event, version, {
        listed: listed as VerifiedPdu[],
        implied: implied as VerifiedPdu[],
      });
      if (refusal === undefined) accepted.set(event.eventId, event);
      else
        this.deps.logger.warn(
          { eventId: event.eventId, refusal },
          'federation: send_join event rejected',
        );
    }
    return accepted;
  }

  private async strippedState(state: StateIds): Promise<JsonObject[]> {
    const ids = STRIPPED_STATE_TYPES.flatMap((type) => state.get(stateMapKey(type, '')) ?? []);
    return (await this.deps.storage.rooms.getEvents(ids)).map((e) => asJson(e.pdu));
  }

  private async call(
    destination: string,
    method: 'GET' | 'PUT',
    path: string,
    body?: JsonObject | Pdu,
    timeoutMs?: number,
  ): Promise<unknown> {
    const response = await this.deps.sender.request({
      destination,
      method,
      path,
      ...(body === undefined ? {} : { body: body as unknown as JsonObject }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });
    if (response.status !== 200) throw remoteError(destination, response);
    return response.body;
  }
}

/** A remote's error answer as ours: its errcode kept for 4xx (the client learns why), else 502. */
function remoteError(server: string, response: FederationResponse): MatrixError {
  const body = (response.body ?? {}) as { errcode?: unknown; error?: unknown };
  const errcode = typeof body.errcode === 'string' ? body.errcode : 'M_UNKNOWN';
  const message = `${server}: ${typeof body.error === 'string' ? body.error : `answered ${response.status}`}`;
  const status = response.status >= 400 && response.status < 500 ? response.status : 502;
  return new MatrixError(status, errcode, message);
}

function eventIdOf(pdu: Pdu, version: RoomVersion): string {
  return eventIdFor(pdu, version);
}

/** The event ID of a PDU of an answer; undefined when it has none (not an object). */
function idOfJson(json: unknown, version: RoomVersion): string | undefined {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return undefined;
  try {
    return eventIdFor(json as Pdu, version);
  } catch {
    return undefined;
  }
}

function enc(value: string): string {
  return encodeURIComponent(value);
}
