/**
 * One room's summary (GET /_matrix/client/v1/room_summary/{roomIdOrAlias}, v1.15 / MSC3266):
 * the summary the directory and hierarchy build, plus the room's version, encryption,
 * restricted-join rooms and the caller's membership. Who may see it is the hierarchy's
 * rule (mayViewRoom); every other room answers exactly as an unknown one does, so the
 * answer never tells that a room exists.
 */
import { stateMapKey } from '../events/auth-rules.js';
import type { JsonObject } from '../events/pdu.js';
import { roomVersion } from '../events/room-versions.js';
import { errors, type MatrixError } from '../protocol/errors.js';
import type { MembershipReader, RoomStateReader } from '../storage/readers.js';
import type { DirectoryStore, EventRecord } from '../storage/storage.js';
import { mayViewRoom, type RoomAccess } from './hierarchy.js';
import { allowedRoomIds } from './restricted-join.js';
import {
  DETAIL_STATE_TYPES,
  roomDetails,
  roomSummary,
  SUMMARY_STATE_TYPES,
} from './room-summary.js';

/** The one answer for unknown, unresolvable and hidden rooms alike. */
const notFound = (): MatrixError => errors.notFound('Room not found or is not accessible');

/** Aliases, the rooms' current state and member counts, the viewer's joined rooms: reads only. */
export interface RoomSummaryServiceStorage {
  directory: Pick<DirectoryStore, 'getAlias'>;
  rooms: RoomStateReader & MembershipReader;
}

export class RoomSummaryService {
  constructor(private readonly storage: RoomSummaryServiceStorage) {}

  /**
   * The summary of a room ID or alias for `viewer` (undefined: an unauthenticated
   * request, which sees only public, knockable and world-readable rooms, as the spec
   * allows and Synapse does). Only local rooms: `via` cannot be followed without federation.
   */
  async summary(roomIdOrAlias: string, viewer: string | undefined): Promise<JsonObject> {
    const roomId = await this.resolve(roomIdOrAlias);
    const room = roomId === undefined ? undefined : await this.storage.rooms.getRoom(roomId);
    if (!room || roomId === undefined) throw notFound();
    const state = await this.stateOf(roomId, viewer);
    const content = (type: string, stateKey = '') =>
      state.get(stateMapKey(type, stateKey))?.pdu.content;
    const version = roomVersion(room.version);
    const joinRules = content('m.room.join_rules');
    const joinRule = stringOr(joinRules?.join_rule);
    const membership = viewer === undefined ? undefined : content('m.room.member', viewer);
    const access: RoomAccess = {
      membership: stringOr(membership?.membership),
      joinRule,
      worldReadable: content('m.room.history_visibility')?.history_visibility === 'world_readable',
      allowRoomIds: allowedRoomIds(joinRules),
      knockRestricted: version.knockRestrictedJoinRule,
    };
    const joinedRooms = viewer === undefined ? [] : await this.joinedRooms(viewer);
    if (!mayViewRoom(access, new Set(joinedRooms))) throw notFound();
    const { joined } = await this.storage.rooms.memberCounts(roomId);
    const summary: JsonObject = {
      ...roomSummary(roomId, (type) => content(type), joined),
      ...roomDetails(room.version, (type) => content(type)),
    };
    // As Synapse: an authenticated caller without a member event is told `leave`.
    if (viewer !== undefined) summary.membership = access.membership ?? 'leave';
    return summary;
  }

  /** A room ID as given, a local alias's room, or undefined for an alias that names none. */
  private async resolve(roomIdOrAlias: string): Promise<string | undefined> {
    if (roomIdOrAlias.startsWith('!')) return roomIdOrAlias;
    if (!roomIdOrAlias.startsWith('#')) {
      throw errors.invalidParam('roomIdOrAlias must be a room ID (!) or a room alias (#)');
    }
    return (await this.storage.directory.getAlias(roomIdOrAlias))?.roomId;
  }

  private joinedRooms(userId: string): Promise<string[]> {
    return this.storage.rooms.roomsWithMembership(userId, 'join');
  }

  /** The summary's state events, the encryption event and the viewer's member event. */
  private async stateOf(
    roomId: string,
    viewer: string | undefined,
  ): Promise<Map<string, EventRecord>> {
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const keys = [...SUMMARY_STATE_TYPES, ...DETAIL_STATE_TYPES].map((type) =>
      stateMapKey(type, ''),
    );
    if (viewer !== undefined) keys.push(stateMapKey('m.room.member', viewer));
    const wanted = keys.flatMap((key) => ids.get(key) ?? []);
    const events = await this.storage.rooms.getEvents(wanted);
    return new Map(events.map((e) => [stateMapKey(e.pdu.type, e.pdu.state_key ?? ''), e]));
  }
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
