/**
 * Users' push rules in SQLite: one row per user holding their UserPushRules as
 * JSON. Rules are always read and replaced whole (the pure edits in
 * push/ruleset.ts work on the whole set), so one statement is one transaction.
 */
import type { UserPushRules } from '../../domain/push-rules.js';
import type { PushRuleStore } from '../storage.js';
import type { SqliteDatabase } from './database.js';

export class SqlitePushRuleStore implements PushRuleStore {
  private readonly select;
  private readonly upsert;

  constructor(db: SqliteDatabase) {
    this.select = db.prepare('SELECT rules_json FROM push_rules WHERE user_id = ?').pluck();
    this.upsert = db.prepare(
      `INSERT INTO push_rules (user_id, rules_json) VALUES (?, ?)
       ON CONFLICT (user_id) DO UPDATE SET rules_json = excluded.rules_json`,
    );
  }

  async get(userId: string): Promise<UserPushRules | undefined> {
    const json = this.select.get(userId) as string | undefined;
    return json === undefined ? undefined : (JSON.parse(json) as UserPushRules);
  }

  async put(userId: string, rules: UserPushRules): Promise<void> {
    this.upsert.run(userId, JSON.stringify(rules));
  }
}
