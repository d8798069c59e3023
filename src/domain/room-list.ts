/**
 * The Admin API's room list (`GET /_synapse/admin/v1/rooms`): what storage
 * reads of each room, which admin/admin-room-rules.ts turns into Synapse's
 * room objects, filters, orders and pages. Types only.
 */
import type { JsonObject } from '../events/pdu.js';

/** A room as storage lists it: its record, counts of its current state, and the state events the list shows. */
export interface ListedRoom {
  roomId: string;
  version: string;
  creator: string;
  /** Entries of the current state (every type and state key). */
  stateEvents: number;
  joinedMembers: number;
  /** Joined members of this server. */
  joinedLocalMembers: number;
  /** Published in the room directory. */
  published: boolean;
  /**
   * The content of the current state events with an empty state key among
   * LISTED_ROOM_STATE_TYPES, by event type (absent: no such event).
   */
  state: Record<string, JsonObject>;
}

/** The state event types storage reads for the list (all with state key ''). */
export const LISTED_ROOM_STATE_TYPES: readonly string[] = [
  'm.room.create',
  'm.room.name',
  'm.room.canonical_alias',
  'm.room.topic',
  'm.room.avatar',
  'm.room.encryption',
  'm.room.join_rules',
  'm.room.guest_access',
  'm.room.history_visibility',
];

/** Which rooms storage lists: every room, or the one named. */
export interface RoomListScope {
  /** Only this room. */
  roomId?: string;
  /** This server's name: members whose user ID ends with `:serverName` are local. */
  serverName: string;
}
