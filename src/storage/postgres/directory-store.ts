/**
 * Room aliases and the published room directory in PostgreSQL: the order and
 * tokens of ../common/published-order.ts; the directory service filters and pages.
 */
import type {
  AliasRecord,
  DirectoryStore,
  PublishedRoomsQuery,
  PublishedRoomsScan,
} from '../storage.js';
import { type DirectoryRow, START, decodeToken, toScan } from '../common/published-order.js';
import type { PgExecutor } from './database.js';

/**
 * Rooms after or before a place in the order. Room IDs compare as SQLite
 * compares them (binary), whatever the database's collation.
 */
const SCAN = {
  forward: `SELECT room_id, published_ts FROM room_directory
    WHERE (published_ts, room_id COLLATE "C") > ($1, $2)
    ORDER BY published_ts, room_id COLLATE "C" LIMIT $3`,
  backward: `SELECT room_id, published_ts FROM room_directory
    WHERE (published_ts, room_id COLLATE "C") < ($1, $2)
    ORDER BY published_ts DESC, room_id COLLATE "C" DESC LIMIT $3`,
} as const;

export class PgDirectoryStore implements DirectoryStore {
  constructor(private readonly db: PgExecutor) {}

  async createAlias(alias: AliasRecord, now: number): Promise<boolean> {
    // The primary key settles a race: one of two concurrent creations inserts.
    const inserted = await this.db.run(
      `INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES ($1, $2, $3, $4)
       ON CONFLICT (alias) DO NOTHING`,
      [alias.alias, alias.roomId, alias.creator, now],
    );
    return inserted > 0;
  }

  async getAlias(alias: string): Promise<AliasRecord | undefined> {
    const row = await this.db.row<{ alias: string; room_id: string; creator: string }>(
      'SELECT alias, room_id, creator FROM room_aliases WHERE alias = $1',
      [alias],
    );
    return row && { alias: row.alias, roomId: row.room_id, creator: row.creator };
  }

  async deleteAlias(alias: string): Promise<boolean> {
    return (await this.db.run('DELETE FROM room_aliases WHERE alias = $1', [alias])) > 0;
  }

  async aliasesOfRoom(roomId: string): Promise<string[]> {
    const rows = await this.db.rows<{ alias: string }>(
      'SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY created_ts, alias COLLATE "C"',
      [roomId],
    );
    return rows.map((row) => row.alias);
  }

  async moveAliases(fromRoomId: string, toRoomId: string): Promise<string[]> {
    // One statement, so one transaction: no alias is ever left behind or missing.
    // The creator and creation time stay: they still say who may delete it, and its order.
    const rows = await this.db.rows<{ alias: string }>(
      `WITH moved AS (
         UPDATE room_aliases SET room_id = $1 WHERE room_id = $2 RETURNING alias, created_ts
       )
       SELECT alias FROM moved ORDER BY created_ts, alias COLLATE "C"`,
      [toRoomId, fromRoomId],
    );
    return rows.map((row) => row.alias);
  }

  async setPublished(roomId: string, published: boolean, now: number): Promise<void> {
    if (!published) {
      await this.db.run('DELETE FROM room_directory WHERE room_id = $1', [roomId]);
      return;
    }
    // Publishing again keeps the first time, so the room keeps its place.
    await this.db.run(
      `INSERT INTO room_directory (room_id, published_ts) VALUES ($1, $2)
       ON CONFLICT (room_id) DO NOTHING`,
      [roomId, now],
    );
  }

  async isPublished(roomId: string): Promise<boolean> {
    const row = await this.db.row('SELECT 1 FROM room_directory WHERE room_id = $1', [roomId]);
    return row !== undefined;
  }

  async joinedMemberCount(roomId: string): Promise<number> {
    const row = await this.db.row<{ count: number }>(
      `SELECT COUNT(*) AS count FROM current_state
       WHERE room_id = $1 AND type = 'm.room.member' AND membership = 'join'`,
      [roomId],
    );
    return row?.count ?? 0;
  }

  async scanPublished(query: PublishedRoomsQuery): Promise<PublishedRoomsScan | undefined> {
    const since = query.since === undefined ? undefined : decodeToken(query.since);
    if (query.since !== undefined && !since) return undefined;
    const direction = since?.direction ?? 'forward';
    const from = since?.at ?? START;
    const rows = await this.db.rows<DirectoryRow>(SCAN[direction], [
      from.ts,
      from.roomId,
      query.limit,
    ]);
    return toScan(direction, rows);
  }

  async countPublished(): Promise<number> {
    const row = await this.db.row<{ count: number }>(
      'SELECT COUNT(*) AS count FROM room_directory',
    );
    return row?.count ?? 0;
  }
}
