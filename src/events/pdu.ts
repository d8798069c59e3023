/**
 * The shape of a room event as servers store and exchange it (a PDU), for the
 * room versions Weft supports. Clients see a projection of it (client-format).
 */

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface Pdu {
  type: string;
  /** Absent only on the `m.room.create` event of room version 12 and later (the room ID derives from it). */
  room_id?: string;
  sender: string;
  origin_server_ts: number;
  content: JsonObject;
  /** Present (possibly empty) on state events only. */
  state_key?: string;
  prev_events: string[];
  auth_events: string[];
  depth: number;
  hashes: { sha256: string };
  signatures: { [serverName: string]: { [keyId: string]: string } };
  /** Top-level `redacts` of `m.room.redaction` in room versions before 11. */
  redacts?: string;
  unsigned?: JsonObject;
}

/** A PDU with its event ID, which the reference-hash room versions do not store inside it. */
export interface StoredEvent {
  eventId: string;
  pdu: Pdu;
}

export function isStateEvent(pdu: Pick<Pdu, 'state_key'>): boolean {
  return pdu.state_key !== undefined;
}
