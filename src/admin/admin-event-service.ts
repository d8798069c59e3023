/**
 * Synapse's Admin API over events: one event whatever the admin's membership
 * (`fetch_event`), and counts of a user's membership events
 * (`sent_invite_count`, `cumulative_joined_room_count`).
 */
import type { JsonObject } from '../events/pdu.js';
import { redactEvent } from '../events/redaction.js';
import { roomVersion } from '../events/room-versions.js';
import { toClientEvent } from '../events/client-format.js';
import { errors } from '../protocol/errors.js';
import type { RoomStore } from '../storage/storage.js';

export interface AdminEventStorage {
  rooms: Pick<RoomStore, 'getEvent' | 'getRoom' | 'invitesSentSince' | 'roomsJoinedSince'>;
}

export class AdminEventService {
  constructor(private readonly storage: AdminEventStorage) {}

  /**
   * The event in the federation format, as Synapse's `fetch_event` gives it:
   * the PDU with its ID, pruned if it was redacted (with the redaction in
   * `unsigned.redacted_because`, as clients see it).
   */
  async fetchEvent(eventId: string): Promise<{ event: JsonObject }> {
    const event = await this.storage.rooms.getEvent(eventId);
    if (!event) throw errors.notFound('Event not found');
    const unsigned: JsonObject = { ...event.pdu.unsigned };
    let pdu = event.pdu;
    const redaction = event.redactedBy && (await this.storage.rooms.getEvent(event.redactedBy));
    if (redaction) {
      const room = await this.storage.rooms.getRoom(event.roomId);
      pdu = redactEvent(event.pdu, roomVersion(room?.version ?? ''));
      unsigned.redacted_because = toClientEvent(redaction) as unknown as JsonObject;
    }
    return { event: { ...pdu, event_id: eventId, unsigned } as unknown as JsonObject };
  }

  async sentInviteCount(userId: string, fromTs: number) {
    return { invite_count: await this.storage.rooms.invitesSentSince(userId, fromTs) };
  }

  /** Rooms joined at or after the time, even if left or banned from since (as Synapse). */
  async cumulativeJoinedRoomCount(userId: string, fromTs: number) {
    return {
      cumulative_joined_room_count: await this.storage.rooms.roomsJoinedSince(userId, fromTs),
    };
  }
}
