/** Room events as the server holds them: stored with their place in the event stream. */
import type { Pdu } from './pdu.js';

/** A room event as stored: its ID, PDU and place in the server's event stream. */
export interface EventRecord {
  eventId: string;
  roomId: string;
  pdu: Pdu;
  streamOrdering: number;
  /** The redaction event applied to this event, if any. */
  redactedBy?: string;
  /** For a state event: the event it replaced in the room's state. */
  replacesState?: string;
  /** The client transaction that sent it, if any (for unsigned.transaction_id). */
  transaction?: { userId: string; deviceId: string; txnId: string };
}

/** A state map: stateMapKey(type, state_key) → event ID. */
export type StateIds = Map<string, string>;
