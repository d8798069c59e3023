/**
 * Room aliases and the published room directory in SQLite.
 *
 * The directory is ordered by (published_ts, room_id): a total order that
 * does not move when rooms gain or lose members, so keyset pagination over it
 * never repeats or skips a room. A `since` token names the edge of the page
 * it came from and the direction to go from there.
 */
import type {
  AliasRecord,
  DirectoryStore,
  PublishedRoomsPage,
  PublishedRoomsQuery,
} from '../storage.js';
import type { SqliteDatabase } from './database.js';

/** A place in the directory's order. */
interface Position {
  ts: number;
  roomId: string;
}

/** Before every published room (timestamps are never negative). */
const START: Position = { ts: -1, roomId: '' };
/** Rows read per query while a filter is looking for matches. */
const SCAN_BATCH = 100;

type Direction = 'f' | 'b';

interface DirectoryRow {
  room_id: string;
  published_ts: number;
}

const toPosition = (row: DirectoryRow): Position => ({ ts: row.published_ts, roomId: row.room_id });

function encodeToken(direction: Direction, at: Position): string {
  return Buffer.from(JSON.stringify([direction, at.ts, at.roomId])).toString('base64url');
}

function decodeToken(token: string): { direction: Direction; at: Position } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3) return undefined;
    const [direction, ts, roomId] = value as unknown[];
    if (direction !== 'f' && direction !== 'b') return undefined;
    if (!Number.isSafeInteger(ts) || typeof roomId !== 'string') return undefined;
    return { direction, at: { ts: ts as number, roomId } };
  } catch {
    return undefined;
  }
}

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

  async listPublished(query: PublishedRoomsQuery): Promise<PublishedRoomsPage | undefined> {
    const since = query.since === undefined ? undefined : decodeToken(query.since);
    if (query.since !== undefined && !since) return undefined;
    const accept = query.accept ?? (async () => true);
    const direction = since?.direction ?? 'f';
    // One extra match tells whether anything lies beyond the page.
    const found = await this.scan(direction, since?.at ?? START, query.limit + 1, accept);
    const page = found.slice(0, query.limit);
    if (direction === 'b') page.reverse();
    const total = this.statements.countPublished.get() as number;
    const first = page[0];
    const last = page.at(-1);
    if (!first || !last) return { roomIds: [], total };
    const more = found.length > query.limit;
    const hasAfter = direction === 'f' ? more : await this.anyBeyond('f', last, accept);
    const hasBefore =
      direction === 'b' ? more : since !== undefined && (await this.anyBeyond('b', first, accept));
    return {
      roomIds: page.map((p) => p.roomId),
      ...(hasAfter ? { nextBatch: encodeToken('f', last) } : {}),
      ...(hasBefore ? { prevBatch: encodeToken('b', first) } : {}),
      total,
    };
  }

  private async anyBeyond(
    direction: Direction,
    from: Position,
    accept: (roomId: string) => Promise<boolean>,
  ): Promise<boolean> {
    return (await this.scan(direction, from, 1, accept)).length > 0;
  }

  /** Up to `wanted` accepted rooms strictly beyond `from`, nearest first, read in batches. */
  private async scan(
    direction: Direction,
    from: Position,
    wanted: number,
    accept: (roomId: string) => Promise<boolean>,
  ): Promise<Position[]> {
    const statement = direction === 'f' ? this.statements.after : this.statements.before;
    const matches: Position[] = [];
    let cursor = from;
    for (;;) {
      const rows = statement.all(cursor.ts, cursor.roomId, SCAN_BATCH) as DirectoryRow[];
      for (const row of rows) {
        if (await accept(row.room_id)) matches.push(toPosition(row));
        if (matches.length === wanted) return matches;
      }
      if (rows.length < SCAN_BATCH) return matches;
      cursor = toPosition(rows.at(-1)!);
    }
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
