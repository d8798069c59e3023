/**
 * Events as a given user's client sees them: redactions applied (content
 * stripped per the room version, `unsigned.redacted_because`), `prev_content`
 * for state, `transaction_id` for the sender's own device, `age`.
 */
import { toClientEvent, type ClientEvent } from '../events/client-format.js';
import { redactEvent } from '../events/redaction.js';
import type { JsonObject } from '../events/pdu.js';
import type { EventRecord, Storage } from '../storage/storage.js';
import { roomVersion } from './room-versions.js';

export interface Viewer {
  userId: string;
  deviceId: string;
}

export class EventViews {
  /** Room versions never change, so they are cached without bound worries (one string per room). */
  private readonly versions = new Map<string, string>();

  constructor(private readonly storage: Storage) {}

  async forClient(events: EventRecord[], viewer: Viewer): Promise<ClientEvent[]> {
    const now = Date.now();
    return Promise.all(events.map((event) => this.view(event, viewer, now)));
  }

  async one(event: EventRecord, viewer: Viewer): Promise<ClientEvent> {
    return this.view(event, viewer, Date.now());
  }

  private async view(event: EventRecord, viewer: Viewer, now: number): Promise<ClientEvent> {
    const redaction = event.redactedBy
      ? await this.storage.rooms.getEvent(event.redactedBy)
      : undefined;
    const pdu = redaction ? redactEvent(event.pdu, await this.versionOf(event.roomId)) : event.pdu;
    const client = toClientEvent({ ...event, pdu }, now);
    const unsigned: JsonObject = { ...client.unsigned };
    if (redaction) unsigned.redacted_because = asJson(toClientEvent(redaction, now));
    if (event.replacesState) {
      const previous = await this.storage.rooms.getEvent(event.replacesState);
      if (previous) {
        unsigned.prev_content = previous.pdu.content;
        unsigned.replaces_state = previous.eventId;
        unsigned.prev_sender = previous.pdu.sender;
      }
    }
    const txn = event.transaction;
    if (txn && txn.userId === viewer.userId && txn.deviceId === viewer.deviceId) {
      unsigned.transaction_id = txn.txnId;
    }
    return withRedactsBothPlaces({ ...client, unsigned });
  }

  private async versionOf(roomId: string) {
    let id = this.versions.get(roomId);
    if (id === undefined) {
      id = (await this.storage.rooms.getRoom(roomId))?.version ?? '';
      this.versions.set(roomId, id);
    }
    return roomVersion(id);
  }
}

/**
 * Room versions before 11 carry `redacts` at the top level, later ones in
 * `content`; clients of either era read their own place, so serve both.
 */
function withRedactsBothPlaces(event: ClientEvent): ClientEvent {
  if (event.type !== 'm.room.redaction') return event;
  const redacts = event.redacts ?? event.content.redacts;
  if (typeof redacts !== 'string') return event;
  return { ...event, redacts, content: { ...event.content, redacts } };
}

function asJson(event: ClientEvent): JsonObject {
  return event as unknown as JsonObject;
}
