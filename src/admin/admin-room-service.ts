/**
 * Synapse's Admin API over Weft's rooms: the room list, one room, its joined
 * members and its current state. The rules are admin-room-rules.ts; storage
 * lists every room in a few queries (RoomStore.listRooms).
 */
import { splitStateMapKey } from '../events/auth/auth-state.js';
import { type ClientEvent, toClientEvent } from '../events/client-format.js';
import { errors } from '../protocol/errors.js';
import type { DeviceReader, RoomStateReader } from '../storage/readers.js';
import type { RoomStore } from '../storage/storage.js';
import {
  type AdminRoomDetailsJson,
  adminRoomDetailsJson,
  type RoomListJson,
  type RoomListQuery,
  roomListJson,
} from './admin-room-rules.js';

/** The room list, rooms' current state and events; devices, to count the local members' ones. */
export interface AdminRoomServiceStorage {
  rooms: RoomStateReader & Pick<RoomStore, 'listRooms'>;
  devices: Pick<DeviceReader, 'listDevices'>;
}

export class AdminRoomService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AdminRoomServiceStorage,
  ) {}

  async listRooms(query: RoomListQuery): Promise<RoomListJson> {
    return roomListJson(query, await this.storage.rooms.listRooms({ serverName: this.serverName }));
  }

  async room(roomId: string): Promise<AdminRoomDetailsJson> {
    const [room] = await this.storage.rooms.listRooms({ roomId, serverName: this.serverName });
    if (!room) throw roomNotFound();
    const suffix = `:${this.serverName}`;
    const local = (await this.joinedMembers(roomId)).filter((userId) => userId.endsWith(suffix));
    let devices = 0;
    for (const userId of local) devices += (await this.storage.devices.listDevices(userId)).length;
    return adminRoomDetailsJson(room, devices);
  }

  async members(roomId: string): Promise<{ members: string[]; total: number }> {
    await this.existingRoom(roomId);
    const members = await this.joinedMembers(roomId);
    return { members, total: members.length };
  }

  async state(roomId: string): Promise<{ state: ClientEvent[] }> {
    await this.existingRoom(roomId);
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const events = await this.storage.rooms.getEvents([...ids.values()]);
    const now = Date.now();
    return { state: events.map((event) => toClientEvent(event, now)) };
  }

  /** The joined members in the current state, by user ID. */
  private async joinedMembers(roomId: string): Promise<string[]> {
    const ids = await this.storage.rooms.currentStateIds(roomId);
    const memberEventIds: string[] = [];
    for (const [key, eventId] of ids) {
      if (splitStateMapKey(key).type === 'm.room.member') memberEventIds.push(eventId);
    }
    const events = await this.storage.rooms.getEvents(memberEventIds);
    return events
      .filter((event) => event.pdu.content.membership === 'join')
      .flatMap((event) => event.pdu.state_key ?? [])
      .sort();
  }

  private async existingRoom(roomId: string): Promise<void> {
    if (!(await this.storage.rooms.getRoom(roomId))) throw roomNotFound();
  }
}

const roomNotFound = () => errors.notFound('Room not found');
