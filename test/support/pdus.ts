/** Minimal PDUs (and event rows) for storage tests: the stores and the persist queue check no hashes or auth. */
import Database from 'better-sqlite3';
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

/**
 * Rows in the events table, `$e<position>` at each position, written with SQL
 * (any schema version): for stores that find events by position, such as
 * notifications, in tests that record those directly.
 */
export function insertMessageRows(file: string, roomId: string, positions: number[]): void {
  const db = new Database(file);
  try {
    const insert = db.prepare(
      `INSERT INTO events (stream_ordering, event_id, room_id, type, sender, depth, state_group, json)
       VALUES (?, ?, ?, 'm.room.message', '@a:localhost', ?, 1, ?)`,
    );
    for (const position of positions) {
      const pdu = minimalPdu({ type: 'm.room.message', depth: position, roomId });
      insert.run(position, `$e${position}`, roomId, position, JSON.stringify(pdu));
    }
  } finally {
    db.close();
  }
}
