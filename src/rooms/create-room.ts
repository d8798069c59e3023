/**
 * POST /createRoom: the events of a new room, in the order the spec lays out
 * (client-server API, "Creation"): create, the creator's join, power levels,
 * the canonical alias from room_alias_name, the preset's join rules / history
 * visibility / guest access, initial_state, name, topic, then invites. An
 * initial_state event replaces the preset's event of the same (type, state_key).
 * Member events carry the user's profile. A `visibility: public` room is then
 * published in the room directory. Every event is built and authorised before
 * any is stored: parameters the auth rules refuse (a power level override below
 * what the name needs, say) are 400 M_INVALID_ROOM_STATE and leave no room.
 */
import { acceptingInvitees, type InvitePermissionStorage } from './invite-permission.js';
import { randomBytes } from 'node:crypto';
import { MemberProfiles } from './member-profiles.js';
import type { Config } from '../config/config.js';
import { stateMapKey } from '../events/auth-rules.js';
import { eventIdFor, roomIdFor } from '../events/hashing.js';
import type { JsonObject, JsonValue, Pdu } from '../events/pdu.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { ProfileReader } from '../storage/readers.js';
import type { DirectoryStore } from '../storage/storage.js';
import { localAliasFor, roomInUse } from './directory-service.js';
import type { EventDraft, RoomService } from './room-service.js';
import type { RemoteMembership } from './remote-membership.js';
import { serverNameOf } from '../events/auth/ids.js';
import { roomVersion, type RoomVersion } from '../events/room-versions.js';

export type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface CreateRoomRequest {
  creator: string;
  roomVersion?: string;
  preset?: Preset;
  visibility: 'public' | 'private';
  creationContent: JsonObject;
  powerLevelOverride?: JsonObject;
  initialState: EventDraft[];
  name?: string;
  topic?: string;
  /** The localpart of an alias on this server to create for the room. */
  roomAliasName?: string;
  invite: string[];
  isDirect: boolean;
}

/** The alias and the published list a new room may get, and the profiles its member events carry. */
export interface CreateRoomStorage extends InvitePermissionStorage {
  directory: DirectoryStore;
  profiles: ProfileReader;
}

export async function createRoom(
  asked: CreateRoomRequest,
  config: Config,
  storage: CreateRoomStorage,
  rooms: RoomService,
  /** Federation's invites (v2 /invite), once built: how users of other servers are invited. */
  remote?: RemoteMembership,
): Promise<string> {
  // Invite blocking (v1.18): "one of the invited users [may be] rejected whilst the room
  // creation as a whole succeeds" — left out before they shape the creators or power levels.
  const request = { ...asked, invite: await acceptingInvitees(storage, asked.invite) };
  const version = roomVersion(request.roomVersion ?? config.default_room_version);
  const preset =
    request.preset ?? (request.visibility === 'public' ? 'public_chat' : 'private_chat');
  const create = buildCreateEvent(request, preset, config, version, rooms);
  const createId = eventIdFor(create, version);
  const roomId = create.room_id ?? roomIdFor(create, version);
  await rooms.authorize(create, version).catch(asInvalidRoomState);
  const alias =
    request.roomAliasName === undefined
      ? undefined
      : localAliasFor(request.roomAliasName, config.server_name);
  const profiles = new MemberProfiles(storage.profiles, config.server_name);
  const allDrafts = await profiles.completeAll(followingEvents(request, preset, version, alias));
  // A user of another server is invited through its server (the spec's "Inviting to a room":
  // it must sign the invite), after the room exists, as Synapse's createRoom invites; a plain
  // invite event in the sequence would reach it only as a PDU of a room it is not in, which
  // Synapse drops. Without federation such users get the local event as before.
  const isRemoteInvite = (draft: EventDraft) =>
    remote !== undefined &&
    draft.type === 'm.room.member' &&
    draft.content.membership === 'invite' &&
    serverNameOf(draft.stateKey ?? '') !== config.server_name;
  const drafts = allDrafts.filter((draft) => !isRemoteInvite(draft));
  const remoteInvites = allDrafts.filter(isRemoteInvite);

  // Reserved before anything is stored, so a taken alias leaves no half-made room behind.
  const creator = request.creator;
  if (alias && !(await storage.directory.createAlias({ alias, roomId, creator }, Date.now()))) {
    throw roomInUse(alias);
  }
  try {
    const room = { roomId, version: version.id, creator };
    await rooms.withRoomLock(roomId, () =>
      rooms.storeNewRoom(room, { eventId: createId, pdu: create }, drafts),
    );
  } catch (err) {
    if (alias) await storage.directory.deleteAlias(alias);
    asInvalidRoomState(err);
  }
  if (request.visibility === 'public') {
    await storage.directory.setPublished(roomId, true, Date.now());
  }
  // One at a time, in the order asked; a refusal fails the request, the room made (as Synapse).
  for (const invite of remoteInvites) {
    await remote!.invite(creator, roomId, invite.stateKey!, invite.content);
  }
  return roomId;
}

/**
 * The auth rules refusing one of the new room's events means the request's
 * parameters make an invalid room: 400 M_INVALID_ROOM_STATE, as the spec
 * answers (e.g. a power level override below what the name needs).
 */
function asInvalidRoomState(err: unknown): never {
  if (err instanceof MatrixError && err.status === 403 && err.errcode === 'M_FORBIDDEN') {
    throw errors.invalidRoomState(err.message);
  }
  throw err;
}

/** The newest create event timestamp handed out by this process. */
let lastCreateTimestamp = 0;

/**
 * From v12 a room's ID is the hash of its create event, so two rooms made by
 * one user with the same options in the same millisecond would collide:
 * create events of this process get strictly increasing timestamps.
 */
function createEventTimestamp(): number {
  lastCreateTimestamp = Math.max(Date.now(), lastCreateTimestamp + 1);
  return lastCreateTimestamp;
}

function buildCreateEvent(
  request: CreateRoomRequest,
  preset: Preset,
  config: Config,
  version: RoomVersion,
  rooms: RoomService,
): Pdu {
  const content: JsonObject = { ...request.creationContent, room_version: version.id };
  // v10 names the creator in the content; from v11 the sender is the creator.
  if (version.creatorIsCreateSender) delete content.creator;
  else content.creator = request.creator;
  // v12: a trusted chat's invitees become creators (the spec's SHOULD), not power level 100.
  // A given list that is not an array is left for the auth rules (1.4) to refuse.
  const invitees = preset === 'trusted_private_chat' ? request.invite : [];
  const given = content.additional_creators ?? [];
  if (version.additionalCreators && invitees.length > 0 && Array.isArray(given)) {
    content.additional_creators = [...new Set([...given, ...invitees])];
  }
  const pdu: Pdu = {
    type: 'm.room.create',
    sender: request.creator,
    origin_server_ts: createEventTimestamp(),
    content,
    state_key: '',
    prev_events: [],
    auth_events: [],
    depth: 1,
    hashes: { sha256: '' },
    signatures: {},
  };
  // v12 derives the room ID from this event; before, the server picks one.
  if (!version.roomIdFromCreateEvent) {
    pdu.room_id = `!${randomBytes(12).toString('base64url')}:${config.server_name}`;
  }
  return rooms.finish(pdu, version);
}

const POWER_LEVELS = 'm.room.power_levels';

function followingEvents(
  request: CreateRoomRequest,
  preset: Preset,
  version: RoomVersion,
  alias: string | undefined,
): EventDraft[] {
  const initialState = initialStateByKey(request.initialState);
  // A power levels event in initial_state replaces the generated one in its place (as Synapse does).
  const initialPowerLevels = initialState.get(stateMapKey(POWER_LEVELS, ''));
  initialState.delete(stateMapKey(POWER_LEVELS, ''));
  // initial_state takes precedence over the preset: such an event is sent once, from initial_state.
  // Synapse treats the canonical alias from room_alias_name the same way.
  const defaults = [...aliasEvent(alias), ...presetEvents(preset)].filter(
    (draft) => !initialState.has(stateMapKey(draft.type, draft.stateKey ?? '')),
  );
  return [
    member(request.creator, 'join'),
    {
      type: POWER_LEVELS,
      stateKey: '',
      content: {
        ...(initialPowerLevels?.content ?? defaultPowerLevels(request, preset, version)),
        ...request.powerLevelOverride,
      },
    },
    ...defaults,
    ...initialState.values(),
    ...nameAndTopic(request),
    ...request.invite.map((invitee) =>
      member(invitee, 'invite', request.isDirect ? { is_direct: true } : {}),
    ),
  ];
}

/**
 * initial_state with one event per (type, state_key): a later entry replaces an
 * earlier one in the earlier one's place, as Synapse's ordered map does.
 */
function initialStateByKey(initialState: EventDraft[]): Map<string, EventDraft> {
  const byKey = new Map<string, EventDraft>();
  for (const draft of initialState) {
    // initial_state may not replace what the request sets more directly.
    if (draft.type === 'm.room.create' || draft.type === 'm.room.member') {
      throw errors.invalidRoomState(`initial_state may not contain ${draft.type}`);
    }
    byKey.set(stateMapKey(draft.type, draft.stateKey ?? ''), draft);
  }
  return byKey;
}

function aliasEvent(alias: string | undefined): EventDraft[] {
  return alias === undefined
    ? []
    : [{ type: 'm.room.canonical_alias', stateKey: '', content: { alias } }];
}

/** The spec's preset table: join rules, history visibility, guest access. */
function presetEvents(preset: Preset): EventDraft[] {
  const isPublic = preset === 'public_chat';
  return [
    {
      type: 'm.room.join_rules',
      stateKey: '',
      content: { join_rule: isPublic ? 'public' : 'invite' },
    },
    { type: 'm.room.history_visibility', stateKey: '', content: { history_visibility: 'shared' } },
    {
      type: 'm.room.guest_access',
      stateKey: '',
      content: { guest_access: isPublic ? 'forbidden' : 'can_join' },
    },
  ];
}

/** Sent after initial_state, so they win over it (the spec's order). */
function nameAndTopic(request: CreateRoomRequest): EventDraft[] {
  const drafts: EventDraft[] = [];
  if (request.name !== undefined) {
    drafts.push({ type: 'm.room.name', stateKey: '', content: { name: request.name } });
  }
  if (request.topic !== undefined) drafts.push(topic(request.topic));
  return drafts;
}

function member(userId: string, membership: string, extra: JsonObject = {}): EventDraft {
  return { type: 'm.room.member', stateKey: userId, content: { membership, ...extra } };
}

function topic(text: string): EventDraft {
  // The topic also as m.topic, so clients that read rich topics see it.
  return {
    type: 'm.room.topic',
    stateKey: '',
    content: { topic: text, 'm.topic': { 'm.text': [{ body: text, mimetype: 'text/plain' }] } },
  };
}

/** The default power levels, as Synapse sets them for each preset. */
function defaultPowerLevels(
  request: CreateRoomRequest,
  preset: Preset,
  version: RoomVersion,
): JsonObject {
  const users: { [userId: string]: JsonValue } = {};
  // v12 creators have unlimited power and must not be listed.
  // In v12 a trusted chat's invitees are creators instead (see buildCreateEvent).
  if (!version.creatorsHaveInfinitePower) {
    users[request.creator] = 100;
    if (preset === 'trusted_private_chat') {
      for (const invitee of request.invite) users[invitee] = 100;
    }
  }
  const content: JsonObject = {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      // v12: upgrading a room is for its creators (and 150 is above any admin).
      'm.room.tombstone': version.creatorsHaveInfinitePower ? 150 : 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === 'public_chat' ? 50 : 0,
  };
  return content;
}
