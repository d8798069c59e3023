/**
 * Users' sync filters in SQLite. IDs are small integers counting up per user
 * (as Synapse's). Storing a text the user already stored returns the existing
 * ID (as Synapse does), so a client that uploads its filter at every start
 * does not grow the table.
 */
import type { FilterStore } from '../storage.js';
import { nextFilterId } from '../common/account-rows.js';
import { type SqliteDatabase, writeTransaction } from './database.js';

export class SqliteFilterStore implements FilterStore {
  private readonly selectSame;
  private readonly selectMaxId;
  private readonly insert;
  private readonly select;
  private readonly addInTransaction;

  constructor(db: SqliteDatabase) {
    this.selectSame = db
      .prepare('SELECT filter_id FROM user_filters WHERE user_id = ? AND filter_json = ?')
      .pluck();
    this.selectMaxId = db
      .prepare('SELECT MAX(filter_id) FROM user_filters WHERE user_id = ?')
      .pluck();
    this.insert = db.prepare(
      'INSERT INTO user_filters (user_id, filter_id, filter_json) VALUES (?, ?, ?)',
    );
    this.select = db
      .prepare('SELECT filter_json FROM user_filters WHERE user_id = ? AND filter_id = ?')
      .pluck();
    // One transaction, so that two uploads at once cannot take the same ID.
    this.addInTransaction = writeTransaction(db, (userId: string, filterJson: string): number => {
      const existing = this.selectSame.get(userId, filterJson) as number | undefined;
      if (existing !== undefined) return existing;
      const filterId = nextFilterId(this.selectMaxId.get(userId) as number | null);
      this.insert.run(userId, filterId, filterJson);
      return filterId;
    });
  }

  async add(userId: string, filterJson: string): Promise<number> {
    return this.addInTransaction(userId, filterJson);
  }

  async get(userId: string, filterId: number): Promise<string | undefined> {
    return this.select.get(userId, filterId) as string | undefined;
  }
}
