/** Rooms' forward extremities for the Admin API, in PostgreSQL (as sqlite/forward-extremity-store.ts). */
import type { ForwardExtremityRecord, ForwardExtremityStore } from '../storage.js';
import type { PgExecutor } from './database.js';

export class PgForwardExtremityStore implements ForwardExtremityStore {
  constructor(private readonly db: PgExecutor) {}

  async list(roomId: string): Promise<ForwardExtremityRecord[]> {
    return this.db.rows<ForwardExtremityRecord>(
      `SELECT f.event_id AS "eventId", e.state_group AS "stateGroup", e.depth,
         e.stream_ordering AS "streamOrdering"
       FROM forward_extremities f JOIN events e ON e.event_id = f.event_id
       WHERE f.room_id = $1 ORDER BY e.stream_ordering DESC`,
      [roomId],
    );
  }

  /** Synapse keeps the extremity of the highest stream ordering; with none, nothing matches. */
  async deleteAllButNewest(roomId: string): Promise<number> {
    return this.db.run(
      `DELETE FROM forward_extremities WHERE room_id = $1 AND event_id <> (
         SELECT f.event_id FROM forward_extremities f JOIN events e ON e.event_id = f.event_id
         WHERE f.room_id = $1 ORDER BY e.stream_ordering DESC LIMIT 1)`,
      [roomId],
    );
  }
}
