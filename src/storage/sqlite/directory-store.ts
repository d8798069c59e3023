/**
 * Room aliases and the published room directory in SQLite. The directory's
 * order and tokens are ../common/published-order.ts; the directory service
 * filters and pages.
 */
import type {
  AliasRecord,
  DirectoryStore,
  PublishedRoomsQuery,
  PublishedRoomsScan,
} from '../storage.js';
import { type DirectoryRow, START, decodeToken, toScan } from '../common/published-order.js';
import type { SqliteDatabase } from './database.js';

export class SqliteDirectoryStore implements DirectoryStore {
  private readonly statements;

  constructor(db: SqliteDatabase) {
    this.statements = prepare(db);
  }

  async createAlias(alias: AliasRecord, now: number): Promise<boolean> {
    const result = this.statements.insertAlias.run(alias.alias, alias.roomId, alias.creator, now);
    return result.changes > 0;
  }

  async getAlias(alias: string): Promise<AliasRecord | undefined> {
    const row = this.statements.selectAlias.get(alias) as
      { alias: string; room_id: string; creator: string } | undefined;
    return row && { alias: row.alias, roomId: row.room_id, creator: row.creator };
  }

  async deleteAlias(alias: string): Promise<boolean> {
    return this.statements.deleteAlias.run(alias).changes > 0;
  }

  async aliasesOfRoom(roomId: string): Promise<string[]> {
    return this.statements.selectAliasesOfRoom.all(roomId) as string[];
  }

  async moveAliases(fromRoomId: string, toRoomId: string): Promise<string[]> {
    // One statement, so one transaction: no alias is ever left behind or missing.
    return this.statements.moveAliases.all(toRoomId, fromRoomId) as string[];
  }

  async setPublished(roomId: string, published: boolean, now: number): Promise<void> {
    if (published) this.statements.publish.run(roomId, now);
    else this.statements.unpublish.run(roomId);
  }

  async isPublished(roomId: string): Promise<boolean> {
    return this.statements.selectPublished.get(roomId) !== undefined;
  }

  async joinedMemberCount(roomId: string): Promise<number> {
    return this.statements.countJoined.get(roomId) as number;
  }

  async scanPublished(query: PublishedRoomsQuery): Promise<PublishedRoomsScan | undefined> {
    const since = query.since === undefined ? undefined : decodeToken(query.since);
    if (query.since !== undefined && !since) return undefined;
    const direction = since?.direction ?? 'forward';
    const from = since?.at ?? START;
    const statement = direction === 'forward' ? this.statements.after : this.statements.before;
    const rows = statement.all(from.ts, from.roomId, query.limit) as DirectoryRow[];
    return toScan(direction, rows);
  }

  async countPublished(): Promise<number> {
    return this.statements.countPublished.get() as number;
  }
}

function prepare(db: SqliteDatabase) {
  return {
    insertAlias: db.prepare(
      `INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?)
       ON CONFLICT (alias) DO NOTHING`,
    ),
    selectAlias: db.prepare('SELECT alias, room_id, creator FROM room_aliases WHERE alias = ?'),
    deleteAlias: db.prepare('DELETE FROM room_aliases WHERE alias = ?'),
    selectAliasesOfRoom: db
      .prepare('SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY created_ts, alias')
      .pluck(),
    // The creator and creation time stay: they still say who may delete it, and its order.
    moveAliases: db
      .prepare('UPDATE room_aliases SET room_id = ? WHERE room_id = ? RETURNING alias')
      .pluck(),
    publish: db.prepare(
      `INSERT INTO room_directory (room_id, published_ts) VALUES (?, ?)
       ON CONFLICT (room_id) DO NOTHING`,
    ),
    unpublish: db.prepare('DELETE FROM room_directory WHERE room_id = ?'),
    selectPublished: db.prepare('SELECT 1 FROM room_directory WHERE room_id = ?').pluck(),
    countPublished: db.prepare('SELECT COUNT(*) FROM room_directory').pluck(),
    after: db.prepare(
      `SELECT room_id, published_ts FROM room_directory WHERE (published_ts, room_id) > (?, ?)
       ORDER BY published_ts, room_id LIMIT ?`,
    ),
    before: db.prepare(
      `SELECT room_id, published_ts FROM room_directory WHERE (published_ts, room_id) < (?, ?)
       ORDER BY published_ts DESC, room_id DESC LIMIT ?`,
    ),
    countJoined: db
      .prepare(
        `SELECT COUNT(*) FROM current_state
         WHERE room_id = ? AND type = 'm.room.member' AND membership = 'join'`,
      )
      .pluck(),
  };
}
