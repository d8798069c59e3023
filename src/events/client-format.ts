/** The client-server API's view of a room event ("ClientEvent"). */
import type { EventRecord } from './records.js';
import type { JsonObject } from './pdu.js';

export interface ClientEvent {
  event_id: string;
  room_id: string;
  type: string;
  sender: string;
  origin_server_ts: number;
  content: JsonObject;
  state_key?: string;
  redacts?: string;
  unsigned: JsonObject;
}

export function toClientEvent(event: EventRecord, now = Date.now()): ClientEvent {
  const { pdu } = event;
  const client: ClientEvent = {
    event_id: event.eventId,
    room_id: event.roomId,
    type: pdu.type,
    sender: pdu.sender,
    origin_server_ts: pdu.origin_server_ts,
    content: pdu.content,
    unsigned: { ...pdu.unsigned, age: Math.max(0, now - pdu.origin_server_ts) },
  };
  if (pdu.state_key !== undefined) client.state_key = pdu.state_key;
  if (pdu.redacts !== undefined) client.redacts = pdu.redacts;
  return client;
}
