/**
 * Users' push rules in PostgreSQL: one row per user holding their
 * UserPushRules as JSON, read and replaced whole (one statement each), as in SQLite.
 */
import type { UserPushRules } from '../../domain/push-rules.js';
import type { PushRuleStore } from '../storage.js';
import type { PgExecutor } from './database.js';

export class PgPushRuleStore implements PushRuleStore {
  constructor(private readonly db: PgExecutor) {}

  async get(userId: string): Promise<UserPushRules | undefined> {
    const row = await this.db.row<{ rules_json: string }>(
      'SELECT rules_json FROM push_rules WHERE user_id = $1',
      [userId],
    );
    return row && (JSON.parse(row.rules_json) as UserPushRules);
  }

  async put(userId: string, rules: UserPushRules): Promise<void> {
    await this.db.run(
      `INSERT INTO push_rules (user_id, rules_json) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET rules_json = EXCLUDED.rules_json`,
      [userId, JSON.stringify(rules)],
    );
  }
}
