/** Rooms' forward extremities for the Admin API, in SQLite (the room store writes them). */
import type { ForwardExtremityRecord, ForwardExtremityStore } from '../storage.js';
import type { SqliteDatabase } from './database.js';

export class SqliteForwardExtremityStore implements ForwardExtremityStore {
  private readonly select;
  private readonly deleteOlder;

  constructor(db: SqliteDatabase) {
    this.select = db.prepare(
      `SELECT f.event_id AS eventId, e.state_group AS stateGroup, e.depth AS depth,
         e.stream_ordering AS streamOrdering
       FROM forward_extremities f JOIN events e ON e.event_id = f.event_id
       WHERE f.room_id = ? ORDER BY e.stream_ordering DESC`,
    );
    // Synapse keeps the extremity of the highest stream ordering. With none, the
    // subquery is NULL and `<> NULL` matches nothing.
    this.deleteOlder = db.prepare(
      `DELETE FROM forward_extremities WHERE room_id = ? AND event_id <> (
         SELECT f.event_id FROM forward_extremities f JOIN events e ON e.event_id = f.event_id
         WHERE f.room_id = ? ORDER BY e.stream_ordering DESC LIMIT 1)`,
    );
  }

  async list(roomId: string): Promise<ForwardExtremityRecord[]> {
    return this.select.all(roomId) as ForwardExtremityRecord[];
  }

  async deleteAllButNewest(roomId: string): Promise<number> {
    return this.deleteOlder.run(roomId, roomId).changes;
  }
}
