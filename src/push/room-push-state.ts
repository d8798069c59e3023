/**
 * What push evaluation needs to know about a room at an event: its joined
 * members with their display names, the power levels and the create event
 * (for `sender_notification_permission`) and the room version.
 *
 * Loaded once per room from the state before the first event evaluated, then
 * rolled forward by each member, power levels or create event as the notifier
 * evaluates events in stream order, so evaluating an event costs no state read.
 */
import {
  CREATE,
  MEMBER,
  POWER_LEVELS,
  stateMapKey,
  stateMapKeyType,
  type AuthState,
} from '../events/auth/auth-state.js';
import type { StoredEvent } from '../events/pdu.js';
import { asPowerLevel, notificationLevel, powerLevelOf } from '../events/power-levels.js';
import { roomVersion, type RoomVersion } from '../events/room-versions.js';
import type { ProfileReader, RoomStateReader, StreamPositionReader } from '../storage/readers.js';
import type { EventRecord } from '../storage/storage.js';

/** Rooms kept in memory; the least recently evaluated one is dropped beyond this. */
const MAX_ROOMS = 2_000;

export interface RoomPushState {
  version: RoomVersion;
  /** The create and power levels events, as power-levels.ts reads them. */
  authState: Map<string, StoredEvent>;
  /** Joined members → their display name in the room (null: none). */
  joined: Map<string, string | null>;
}

function displayNameOf(event: StoredEvent): string | null {
  const name = event.pdu.content.displayname;
  return typeof name === 'string' && name !== '' ? name : null;
}

/** Applies a state event to the room's push state (called after the event is evaluated). */
export function applyStateEvent(state: RoomPushState, event: StoredEvent): void {
  const { type, state_key: stateKey } = event.pdu;
  if (stateKey === undefined) return;
  if (type === MEMBER) {
    if (event.pdu.content.membership === 'join') state.joined.set(stateKey, displayNameOf(event));
    else state.joined.delete(stateKey);
  } else if ((type === POWER_LEVELS || type === CREATE) && stateKey === '') {
    state.authState.set(stateMapKey(type, ''), event);
  }
}

/** The sender's power level and the room's `notifications` levels, for the evaluator. */
export function senderLevels(state: RoomPushState, sender: string) {
  const auth: AuthState = state.authState;
  const notifications: Record<string, number> = {
    room: notificationLevel('room', auth, state.version),
  };
  const declared = auth.get(stateMapKey(POWER_LEVELS, ''))?.pdu.content.notifications;
  if (declared && typeof declared === 'object' && !Array.isArray(declared)) {
    for (const [key, value] of Object.entries(declared)) {
      const level = asPowerLevel(value, state.version);
      if (level !== undefined) notifications[key] = level;
    }
  }
  return {
    senderPowerLevel: powerLevelOf(sender, auth, state.version),
    notificationPowerLevels: notifications,
  };
}

/** Rooms' state at a position and their events, and the members' display names: reads only. */
export interface RoomPushStatesStorage {
  rooms: RoomStateReader & StreamPositionReader;
  profiles: ProfileReader;
}

export class RoomPushStates {
  private readonly rooms = new Map<string, RoomPushState>();

  constructor(private readonly storage: RoomPushStatesStorage) {}

  /** The room's state just before `event`, loaded from storage on first use. */
  async before(event: EventRecord): Promise<RoomPushState> {
    let state = this.rooms.get(event.roomId);
    if (state) {
      // Most recently used last, so the first entry is the one to drop.
      this.rooms.delete(event.roomId);
    } else {
      state = await this.load(event.roomId, event.streamOrdering - 1);
    }
    this.rooms.set(event.roomId, state);
    if (this.rooms.size > MAX_ROOMS) this.rooms.delete(this.rooms.keys().next().value!);
    return state;
  }

  /** Forgets everything (after a failed evaluation, when the rolled-forward state may be off). */
  clear(): void {
    this.rooms.clear();
  }

  private async load(roomId: string, position: number): Promise<RoomPushState> {
    const room = await this.storage.rooms.getRoom(roomId);
    const version = roomVersion(room?.version ?? '10');
    const ids = [...(await this.storage.rooms.stateIdsAt(roomId, position))]
      .filter(([key]) => isPushRelevantKey(key))
      .map(([, id]) => id);
    const state: RoomPushState = { version, authState: new Map(), joined: new Map() };
    for (const event of await this.storage.rooms.getEvents(ids)) applyStateEvent(state, event);
    await this.fillProfileNames(state);
    return state;
  }

  /** Members whose member event has no display name: their profile's, as Synapse falls back. */
  private async fillProfileNames(state: RoomPushState): Promise<void> {
    for (const [userId, name] of state.joined) {
      if (name !== null) continue;
      const profile = await this.storage.profiles.getProfile(userId);
      if (profile?.displayName) state.joined.set(userId, profile.displayName);
    }
  }
}

function isPushRelevantKey(key: string): boolean {
  const type = stateMapKeyType(key);
  return type === MEMBER || type === POWER_LEVELS || type === CREATE;
}
