/**
 * POST /rooms/{roomId}/upgrade (client-server API, "Room Upgrades", server
 * behaviour): check that the user may send m.room.tombstone in the old room,
 * create the replacement room (its m.room.create names the `predecessor`),
 * replicate the transferable state, move the local aliases, tombstone the old
 * room, then restrict the old room's power levels.
 *
 * The whole upgrade holds the old room's lock, so the predecessor's last event
 * and the state copied are those the tombstone is built on.
 */
import type { Config } from '../config/config.js';
import { authStateOf, type AuthState } from '../events/auth-rules.js';
import { isObject, membershipOf, roomCreators, stateEvent } from '../events/auth/auth-state.js';
import { isValidUserId } from '../events/auth/ids.js';
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { asPowerLevel, powerLevelOf, requiredLevelForEvent } from '../events/power-levels.js';
import { errors, MatrixError } from '../protocol/errors.js';
import type { RoomRecord, RoomStore } from '../storage/storage.js';
import { createRoom, type CreateRoomStorage } from './create-room.js';
import type { EventDraft, RoomService } from './room-service.js';
import { roomVersion, type RoomVersion } from '../events/room-versions.js';

export interface UpgradeRoomRequest {
  roomId: string;
  userId: string;
  newVersion: string;
  /** Creators besides the upgrader, for versions that have them (ignored otherwise). */
  additionalCreators?: string[];
}

const TOMBSTONE = 'm.room.tombstone';
const POWER_LEVELS = 'm.room.power_levels';
const CANONICAL_ALIAS = 'm.room.canonical_alias';

/** The state the spec recommends transferring, plus the canonical alias that moves with the aliases. */
const TRANSFERRED_STATE = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.guest_access',
  'm.room.history_visibility',
  'm.room.join_rules',
  CANONICAL_ALIAS,
] as const;

/** Events createRoom's preset sends after the power levels, so the upgrader needs their levels. */
const PRESET_STATE = ['m.room.join_rules', 'm.room.history_visibility', 'm.room.guest_access'];

/** The level the old room's events_default and invite are raised to at least (spec's example). */
const RESTRICTED_LEVEL = 50;
/** What an old v12 creator is given in a new room whose creators are not all-powerful. */
const ADMIN_LEVEL = 100;

/** The old room's state and last events, and what creating the new room takes. */
export interface UpgradeRoomStorage extends CreateRoomStorage {
  rooms: RoomStore;
}

export async function upgradeRoom(
  request: UpgradeRoomRequest,
  config: Config,
  storage: UpgradeRoomStorage,
  rooms: RoomService,
): Promise<string> {
  const newVersion = roomVersion(request.newVersion);
  const { roomId, userId } = request;
  const additionalCreators = newVersion.additionalCreators
    ? validAdditionalCreators(request.additionalCreators ?? [], userId)
    : [];
  const oldRoom = await rooms.requireRoom(roomId);
  const oldVersion = roomVersion(oldRoom.version);

  return rooms.withRoomLock(roomId, async () => {
    const stateIds = await storage.rooms.currentStateIds(roomId);
    const state = authStateOf(await storage.rooms.getEvents([...stateIds.values()]));
    // 1. Nothing is created unless the user may tombstone the old room.
    if (membershipOf(state, userId) !== 'join') throw errors.forbidden('You are not in this room');
    const needed = requiredLevelForEvent(TOMBSTONE, true, state, oldVersion);
    if (powerLevelOf(userId, state, oldVersion) < needed) {
      throw errors.forbidden(`Upgrading needs the power to send ${TOMBSTONE} (${needed})`);
    }

    // 2–3. The replacement room, with the transferred state.
    const create = stateEvent(state, 'm.room.create')!.pdu.content;
    const creationContent: JsonObject = {
      predecessor: await predecessorOf(storage, oldRoom, newVersion),
    };
    for (const key of ['type', 'm.federate']) {
      if (create[key] !== undefined) creationContent[key] = create[key] as JsonValue;
    }
    if (additionalCreators.length > 0) creationContent.additional_creators = additionalCreators;

    const initialState: EventDraft[] = [];
    for (const type of TRANSFERRED_STATE) {
      const content = stateEvent(state, type)?.pdu.content;
      if (content !== undefined) initialState.push({ type, stateKey: '', content });
    }
    // No m.room.guest_access means forbidden; say so, or the preset's can_join would stand.
    if (!stateEvent(state, 'm.room.guest_access')) {
      initialState.push({
        type: 'm.room.guest_access',
        stateKey: '',
        content: { guest_access: 'forbidden' },
      });
    }
    const oldPowerLevels = stateEvent(state, POWER_LEVELS)?.pdu.content;
    let restorePowerLevels: JsonObject | undefined;
    if (oldPowerLevels !== undefined) {
      const levels = newPowerLevels(oldPowerLevels, state, request, additionalCreators, {
        oldVersion,
        newVersion,
      });
      initialState.push({ type: POWER_LEVELS, stateKey: '', content: levels.initial });
      restorePowerLevels = levels.restore;
    }

    const published = await storage.directory.isPublished(roomId);
    const newRoomId = await createRoom(
      {
        creator: userId,
        roomVersion: newVersion.id,
        // An explicit preset: the transferred state then replaces what it sets.
        preset: 'private_chat',
        visibility: published ? 'public' : 'private',
        creationContent,
        initialState,
        invite: [],
        isDirect: false,
      },
      config,
      storage,
      rooms,
    );
    if (restorePowerLevels) {
      await rooms.send(newRoomId, userId, {
        type: POWER_LEVELS,
        stateKey: '',
        content: restorePowerLevels,
      });
    }
    if (published) await storage.directory.setPublished(roomId, false, Date.now());

    // 4. The local aliases now lead to the new room (which got the canonical alias above).
    await storage.directory.moveAliases(roomId, newRoomId);

    // 5. The tombstone.
    await rooms.buildAndStore(oldRoom, userId, {
      type: TOMBSTONE,
      stateKey: '',
      content: { body: 'This room has been replaced', replacement_room: newRoomId },
    });

    // The old room stops advertising aliases that now lead elsewhere, where the user may.
    if (stateEvent(state, CANONICAL_ALIAS)) {
      await permitted(
        rooms.buildAndStore(oldRoom, userId, { type: CANONICAL_ALIAS, stateKey: '', content: {} }),
      );
    }

    // 6. No more messages or invites from ordinary members, if the user may change power levels.
    const restricted = restrictedPowerLevels(oldPowerLevels, oldVersion);
    if (restricted) {
      await permitted(
        rooms.buildAndStore(oldRoom, userId, {
          type: POWER_LEVELS,
          stateKey: '',
          content: restricted,
        }),
      );
    }
    return newRoomId;
  });
}

/** v12 room IDs name their create event, so the spec lets `event_id` go; before, the old room's last event. */
async function predecessorOf(
  storage: UpgradeRoomStorage,
  oldRoom: RoomRecord,
  newVersion: RoomVersion,
): Promise<JsonObject> {
  const predecessor: JsonObject = { room_id: oldRoom.roomId };
  if (newVersion.roomIdFromCreateEvent) return predecessor;
  const extremities = await storage.rooms.forwardExtremities(oldRoom.roomId);
  const events = await storage.rooms.getEvents(extremities.map((e) => e.eventId));
  const last = events.reduce((a, b) => (b.streamOrdering > a.streamOrdering ? b : a));
  predecessor.event_id = last.eventId;
  return predecessor;
}

function validAdditionalCreators(ids: string[], upgrader: string): string[] {
  const invalid = ids.find((id) => !isValidUserId(id));
  if (invalid !== undefined) {
    throw errors.invalidParam(`additional_creators: ${invalid} is not a valid user ID`);
  }
  return [...new Set(ids)].filter((id) => id !== upgrader);
}

/**
 * The new room's power levels: the old ones, with v12 creators (the upgrader
 * and the additional creators) left out of `users`; where creators are not
 * all-powerful, the old room's all-powerful creators become admins, and the
 * upgrader is raised, if need be, to send everything the creation sends —
 * then put back (`restore`) when their old level was finite.
 */
function newPowerLevels(
  old: JsonObject,
  state: AuthState,
  request: UpgradeRoomRequest,
  additionalCreators: string[],
  versions: { oldVersion: RoomVersion; newVersion: RoomVersion },
): { initial: JsonObject; restore?: JsonObject } {
  const { oldVersion, newVersion } = versions;
  const content = structuredClone(old) as JsonObject;
  const users: JsonObject = isObject(content.users) ? { ...content.users } : {};
  content.users = users;
  if (newVersion.creatorsHaveInfinitePower) {
    for (const creator of [request.userId, ...additionalCreators]) delete users[creator];
    return { initial: content };
  }
  if (oldVersion.creatorsHaveInfinitePower) {
    for (const creator of roomCreators(state, oldVersion)) {
      if (creator !== request.userId && !Object.hasOwn(users, creator))
        users[creator] = ADMIN_LEVEL;
    }
  }
  const own = powerLevelOf(request.userId, state, oldVersion);
  const needed = Math.max(
    ...[POWER_LEVELS, ...PRESET_STATE, ...TRANSFERRED_STATE].map((type) =>
      levelToSend(content, type, newVersion),
    ),
  );
  if (own === Infinity) {
    // An old v12 creator: at least an admin, and able to do anything the levels name.
    users[request.userId] = Math.max(ADMIN_LEVEL, needed, ...allLevels(content, newVersion));
    return { initial: content };
  }
  if (own >= needed) return { initial: content };
  const initial = { ...content, users: { ...users, [request.userId]: needed } };
  return { initial, restore: content };
}

/** `events[type]`, else `state_default` (50 when missing), for a state event in these levels. */
function levelToSend(content: JsonObject, type: string, version: RoomVersion): number {
  const events = isObject(content.events) ? content.events : {};
  return asPowerLevel(events[type], version) ?? asPowerLevel(content.state_default, version) ?? 50;
}

function allLevels(content: JsonObject, version: RoomVersion): number[] {
  const nested = [content.users, content.events, content.notifications].flatMap((map) =>
    isObject(map) ? Object.values(map) : [],
  );
  const top = Object.values(content);
  return [...nested, ...top]
    .map((value) => asPowerLevel(value as JsonValue, version))
    .filter((level): level is number => level !== undefined);
}

/**
 * The old room's power levels with `events_default` and `invite` raised to the
 * greater of 50 and `users_default + 1`; undefined when they already are.
 */
function restrictedPowerLevels(
  old: JsonObject | undefined,
  version: RoomVersion,
): JsonObject | undefined {
  // Without a power levels event, sending one would take the creator's implicit 100 away.
  if (old === undefined) return undefined;
  const content = structuredClone(old) as JsonObject;
  const usersDefault = asPowerLevel(content.users_default, version) ?? 0;
  const level = Math.max(RESTRICTED_LEVEL, usersDefault + 1);
  let changed = false;
  for (const key of ['events_default', 'invite']) {
    if ((asPowerLevel(content[key] as JsonValue, version) ?? 0) < level) {
      content[key] = level;
      changed = true;
    }
  }
  return changed ? content : undefined;
}

/** "If possible": an event the auth rules refuse is left unsent; other failures propagate. */
async function permitted(sending: Promise<unknown>): Promise<void> {
  try {
    await sending;
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
  }
}
