/**
 * The streams whose positions readers read by range (sync tokens hold one per
 * stream): opened once and shared by every store that writes to them, since
 * a stream can have writers in several areas (a device deletion records a
 * device list change). Each is a sequence of the schema (see ../common/stream-positions.ts).
 */
import type { StreamPositions } from '../common/stream-positions.js';
import type { PgExecutor } from './database.js';
import { openStream } from './sequences.js';

export interface PgStreams {
  /** events.stream_ordering */
  events: StreamPositions;
  /** account_data.stream_id */
  accountData: StreamPositions;
  /** receipts.stream_id */
  receipts: StreamPositions;
  /** presence.stream_id */
  presence: StreamPositions;
  /** to_device_messages.stream_id */
  toDevice: StreamPositions;
  /** device_list_changes.stream_id */
  deviceLists: StreamPositions;
}

export async function openStreams(db: PgExecutor): Promise<PgStreams> {
  return {
    events: await openStream(db, 'events_stream_ordering_seq'),
    accountData: await openStream(db, 'account_data_stream_id_seq'),
    receipts: await openStream(db, 'receipts_stream_id_seq'),
    presence: await openStream(db, 'presence_stream_id_seq'),
    toDevice: await openStream(db, 'to_device_messages_stream_id_seq'),
    deviceLists: await openStream(db, 'device_list_changes_stream_id_seq'),
  };
}
