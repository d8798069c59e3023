/**
 * Rooms and events persisted through the Storage interface, for the contract
 * tests of the stores that read events (relations, notifications): minimal
 * PDUs (no hashes, no auth), event IDs chosen by the test.
 */
import type { JsonObject } from '../../src/events/pdu.js';
import type { IndexedRelation } from '../../src/events/relation-types.js';
import type { EventRecord, NewRoomEvent, Storage } from '../../src/storage/storage.js';
import { minimalPdu } from './pdus.js';

export interface TestEvent {
  eventId: string;
  type?: string;
  sender?: string;
  content?: JsonObject;
  stateKey?: string;
  /** Indexed as the relation index stores it (the rules are not run here). */
  relation?: IndexedRelation;
  /** The event this one redacts (an `m.room.redaction`). */
  redacts?: string;
  originServerTs?: number;
}

/** A room of the storage under test; `storage` may be replaced after a reopen. */
export class TestRoom {
  private depth = 1;

  private constructor(
    public storage: Storage,
    readonly roomId: string,
    readonly creator: string,
  ) {}

  /** Creates the room and persists its m.room.create event. */
  static async create(
    storage: Storage,
    roomId = '!room:localhost',
    creator = '@alice:localhost',
  ): Promise<TestRoom> {
    await storage.rooms.createRoom({ roomId, version: '11', creator }, 0);
    const room = new TestRoom(storage, roomId, creator);
    await room.send({ eventId: `$create-${roomId.slice(1)}`, type: 'm.room.create', stateKey: '' });
    return room;
  }

  event(fields: TestEvent): NewRoomEvent {
    const type =
      fields.redacts === undefined ? (fields.type ?? 'm.room.message') : 'm.room.redaction';
    const pdu = minimalPdu({
      type,
      depth: this.depth++,
      roomId: this.roomId,
      sender: fields.sender ?? this.creator,
      content: fields.content ?? (type === 'm.room.message' ? { body: fields.eventId } : {}),
      ...(fields.stateKey === undefined ? {} : { stateKey: fields.stateKey }),
    });
    if (fields.redacts !== undefined) pdu.redacts = fields.redacts;
    if (fields.originServerTs !== undefined) pdu.origin_server_ts = fields.originServerTs;
    const event: NewRoomEvent = { eventId: fields.eventId, roomId: this.roomId, pdu };
    if (fields.relation) event.relation = fields.relation;
    return event;
  }

  send(fields: TestEvent): Promise<EventRecord> {
    return this.storage.rooms.persistEvent(this.event(fields));
  }

  /** Several events in one transaction. */
  sendAll(events: TestEvent[]): Promise<EventRecord[]> {
    return this.storage.rooms.persistEvents(events.map((fields) => this.event(fields)));
  }
}
