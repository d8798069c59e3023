/**
 * Users' sync filters in PostgreSQL: IDs count up per user, and storing a text
 * the user already stored returns its ID, as in SQLite (filter-store.ts there).
 */
import type { FilterStore } from '../storage.js';
import { nextFilterId } from '../common/account-rows.js';
import type { PgDatabase } from './database.js';
import { LockScope, lockKey } from './key-locks.js';

export class PgFilterStore implements FilterStore {
  constructor(private readonly db: PgDatabase) {}

  async add(userId: string, filterJson: string): Promise<number> {
    return this.db.transaction(async (tx) => {
      // The user's lock, so that concurrent uploads of one text get one ID and
      // of different texts different IDs (the text is too long to index uniquely).
      await lockKey(tx, LockScope.userFilters, userId);
      const same = await tx.row<{ filter_id: number }>(
        'SELECT filter_id FROM user_filters WHERE user_id = $1 AND filter_json = $2',
        [userId, filterJson],
      );
      if (same) return same.filter_id;
      const highest = await tx.row<{ highest: number | null }>(
        'SELECT MAX(filter_id) AS highest FROM user_filters WHERE user_id = $1',
        [userId],
      );
      const filterId = nextFilterId(highest?.highest ?? null);
      await tx.run(
        'INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES ($1, $2, $3)',
        [userId, filterId, filterJson],
      );
      return filterId;
    });
  }

  async get(userId: string, filterId: number): Promise<string | undefined> {
    const row = await this.db.row<{ filter_json: string }>(
      'SELECT filter_json FROM user_filters WHERE user_id = $1 AND filter_id = $2',
      [userId, filterId],
    );
    return row?.filter_json;
  }
}
