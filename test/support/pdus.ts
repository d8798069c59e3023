/** Minimal PDUs for storage tests: the stores and the persist queue check no hashes or auth. */
import type { JsonObject, Pdu } from '../../src/events/pdu.js';

export interface PduFields {
  type: string;
  depth: number;
  stateKey?: string;
  content?: JsonObject;
  roomId?: string;
  sender?: string;
}

export function minimalPdu(fields: PduFields): Pdu {
  return {
    type: fields.type,
    room_id: fields.roomId ?? '!r:localhost',
    sender: fields.sender ?? '@a:localhost',
    origin_server_ts: 0,
    content: fields.content ?? {},
    ...(fields.stateKey === undefined ? {} : { state_key: fields.stateKey }),
    prev_events: [],
    auth_events: [],
    depth: fields.depth,
    hashes: { sha256: '' },
    signatures: {},
  };
}
