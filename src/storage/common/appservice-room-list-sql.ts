/**
 * The SQL of the rooms application services publish under their networks,
 * shared by both backends: `p(n)` writes the n-th placeholder, `collate` what
 * makes room IDs compare bytewise (PostgreSQL's `COLLATE "C"`; SQLite's
 * default already does). Scans keep the published directory's order and
 * tokens (published-order.ts), so DirectoryService pages them the same way.
 */
import type { NetworkListScope } from '../storage.js';
import type { Direction } from './published-order.js';

type Placeholder = (n: number) => string;

/** The scope's rooms as (room_id, published_ts), and how many placeholders that took. */
function source(scope: NetworkListScope, p: Placeholder): { sql: string; used: number } {
  if (scope === 'all') {
    // A room in several lists appears once, where it was first published.
    return {
      sql: `SELECT room_id, MIN(published_ts) AS published_ts FROM (
          SELECT room_id, published_ts FROM room_directory
          UNION ALL SELECT room_id, published_ts FROM appservice_room_list) lists
        GROUP BY room_id`,
      used: 0,
    };
  }
  return {
    sql: `SELECT room_id, published_ts FROM appservice_room_list
      WHERE service_id = ${p(1)} AND network_id = ${p(2)}`,
    used: 2,
  };
}

/** Parameters of the scope, before a scan's own. */
export function scopeParams(scope: NetworkListScope): string[] {
  return scope === 'all' ? [] : [scope.network.serviceId, scope.network.networkId];
}

/** Rooms after (forward) or before (backward) a place: params scope…, ts, room ID, limit. */
export function scanSql(
  scope: NetworkListScope,
  direction: Direction,
  p: Placeholder,
  collate: string,
): string {
  const { sql, used } = source(scope, p);
  const [compare, order] = direction === 'forward' ? ['>', ''] : ['<', ' DESC'];
  return `SELECT room_id, published_ts FROM (${sql}) scoped
    WHERE (published_ts, room_id${collate}) ${compare} (${p(used + 1)}, ${p(used + 2)})
    ORDER BY published_ts${order}, room_id${collate}${order} LIMIT ${p(used + 3)}`;
}

export function countSql(scope: NetworkListScope, p: Placeholder): string {
  return `SELECT COUNT(*) AS count FROM (${source(scope, p).sql}) scoped`;
}

export function appServiceRoomListSql(p: Placeholder) {
  return {
    publish: `INSERT INTO appservice_room_list (service_id, network_id, room_id, published_ts)
      VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})
      ON CONFLICT (service_id, network_id, room_id) DO NOTHING`,
    unpublish: `DELETE FROM appservice_room_list
      WHERE service_id = ${p(1)} AND network_id = ${p(2)} AND room_id = ${p(3)}`,
  };
}
