/** The rooms application services publish under their networks, in PostgreSQL. */
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
import type { PgExecutor } from './database.js';

const placeholder = (n: number) => `$${n}`;
const sql = appServiceRoomListSql(placeholder);
/** Room IDs compare as SQLite compares them (binary), whatever the database's collation. */
const BINARY = ' COLLATE "C"';

export class PgAppServiceRoomListStore implements AppServiceRoomListStore {
  constructor(private readonly db: PgExecutor) {}

  async publish(network: NetworkKey, roomId: string, now: number): Promise<void> {
    await this.db.run(sql.publish, [network.serviceId, network.networkId, roomId, now]);
  }

  async unpublish(network: NetworkKey, roomId: string): Promise<void> {
    await this.db.run(sql.unpublish, [network.serviceId, network.networkId, roomId]);
  }

  async scan(
    scope: NetworkListScope,
    query: PublishedRoomsQuery,
  ): Promise<PublishedRoomsScan | undefined> {
    const since = query.since === undefined ? undefined : decodeToken(query.since);
    if (query.since !== undefined && !since) return undefined;
    const direction = since?.direction ?? 'forward';
    const from = since?.at ?? START;
    const rows = await this.db.rows<DirectoryRow>(scanSql(scope, direction, placeholder, BINARY), [
      ...scopeParams(scope),
      from.ts,
      from.roomId,
      query.limit,
    ]);
    return toScan(direction, rows);
  }

  async count(scope: NetworkListScope): Promise<number> {
    const row = await this.db.row<{ count: number }>(
      countSql(scope, placeholder),
      scopeParams(scope),
    );
    return row?.count ?? 0;
  }
}
