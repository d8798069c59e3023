/** The rooms application services publish under their networks, in SQLite. */
import type {
  AppServiceRoomListStore,
  NetworkKey,
  PublishedRoomsQuery,
  PublishedRoomsScan,
  NetworkListScope,
} from '../storage.js';
import {
  appServiceRoomListSql,
  countSql,
  scanSql,
  scopeParams,
} from '../common/appservice-room-list-sql.js';
import { type DirectoryRow, START, decodeToken, toScan } from '../common/published-order.js';
import type Database from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

const placeholder = () => '?';

export class SqliteAppServiceRoomListStore implements AppServiceRoomListStore {
  private readonly statements;
  /** The scans' statements, prepared at first use: two scopes, two directions. */
  private readonly scans = new Map<string, Database.Statement>();

  constructor(private readonly db: SqliteDatabase) {
    const sql = appServiceRoomListSql(placeholder);
    this.statements = { publish: db.prepare(sql.publish), unpublish: db.prepare(sql.unpublish) };
  }

  async publish(network: NetworkKey, roomId: string, now: number): Promise<void> {
    this.statements.publish.run(network.serviceId, network.networkId, roomId, now);
  }

  async unpublish(network: NetworkKey, roomId: string): Promise<void> {
    this.statements.unpublish.run(network.serviceId, network.networkId, roomId);
  }

  async scan(
    scope: NetworkListScope,
    query: PublishedRoomsQuery,
  ): Promise<PublishedRoomsScan | undefined> {
    const since = query.since === undefined ? undefined : decodeToken(query.since);
    if (query.since !== undefined && !since) return undefined;
    const direction = since?.direction ?? 'forward';
    const from = since?.at ?? START;
    const rows = this.prepared(`${scope === 'all' ? 'all' : 'network'} ${direction}`, () =>
      scanSql(scope, direction, placeholder, ''),
    ).all(...scopeParams(scope), from.ts, from.roomId, query.limit) as DirectoryRow[];
    return toScan(direction, rows);
  }

  async count(scope: NetworkListScope): Promise<number> {
    const key = `${scope === 'all' ? 'all' : 'network'} count`;
    const row = this.prepared(key, () => countSql(scope, placeholder)).get(
      ...scopeParams(scope),
    ) as {
      count: number;
    };
    return row.count;
  }

  private prepared(key: string, sql: () => string): Database.Statement {
    let statement = this.scans.get(key);
    if (!statement) {
      statement = this.db.prepare(sql());
      this.scans.set(key, statement);
    }
    return statement;
  }
}
