/**
 * The user directory, read from current memberships and profiles at query
 * time, so it is always up to date with profile and membership changes without
 * an index of its own to maintain. Matching folds case with JavaScript's
 * Unicode-aware toLowerCase (SQLite's lower() knows only ASCII).
 */
import type { DirectoryUser, UserDirectoryQuery, UserDirectoryStore } from '../storage.js';
import {
  type DirectoryUserRow,
  MAX_SEARCH_WORDS,
  toDirectoryUser,
} from '../common/user-data-rows.js';
import type { SqliteDatabase } from './database.js';
import { CURRENT_STATE_WITH_JSON, STATE_EVENT_JSON } from '../common/current-state-sql.js';

/** Rooms whose joined members the searcher may find: theirs, and public or world-readable ones. */
const VISIBLE_ROOMS = `
  SELECT room_id FROM current_state
    WHERE type = 'm.room.member' AND state_key = :searcher AND membership = 'join'
  UNION
  SELECT cs.room_id FROM ${CURRENT_STATE_WITH_JSON}
    WHERE cs.type = 'm.room.join_rules' AND cs.state_key = ''
      AND json_extract(${STATE_EVENT_JSON}, '$.content.join_rule') = 'public'
  UNION
  SELECT cs.room_id FROM ${CURRENT_STATE_WITH_JSON}
    WHERE cs.type = 'm.room.history_visibility' AND cs.state_key = ''
      AND json_extract(${STATE_EVENT_JSON}, '$.content.history_visibility') = 'world_readable'`;

const SHARED_CANDIDATES = `
  SELECT DISTINCT cs.state_key AS user_id FROM current_state cs
    WHERE cs.type = 'm.room.member' AND cs.membership = 'join'
      AND cs.room_id IN (${VISIBLE_ROOMS})`;

const ALL_CANDIDATES = 'SELECT user_id FROM users WHERE deactivated = 0';

export class SqliteUserDirectoryStore implements UserDirectoryStore {
  private readonly statements = new Map<string, ReturnType<SqliteDatabase['prepare']>>();

  constructor(private readonly db: SqliteDatabase) {
    db.function('weft_fold', { deterministic: true }, (text: unknown) =>
      typeof text === 'string' ? text.toLowerCase() : null,
    );
  }

  async search(query: UserDirectoryQuery): Promise<DirectoryUser[]> {
    const words = query.words.slice(0, MAX_SEARCH_WORDS);
    const statement = this.statementFor(words.length, query.searchAllUsers);
    const params: Record<string, unknown> = { searcher: query.searcher, limit: query.limit };
    words.forEach((word, i) => (params[`w${i}`] = word));
    return (statement.all(params) as DirectoryUserRow[]).map(toDirectoryUser);
  }

  /** One prepared statement per word count and scope. */
  private statementFor(wordCount: number, searchAll: boolean) {
    const key = `${wordCount}:${searchAll}`;
    let statement = this.statements.get(key);
    if (!statement) {
      const haystack = `weft_fold(c.user_id || ' ' || COALESCE(p.displayname, ''))`;
      const conditions = Array.from(
        { length: wordCount },
        (_, i) => `instr(${haystack}, :w${i}) > 0`,
      );
      statement = this.db.prepare(
        `SELECT c.user_id, p.displayname, p.avatar_url
         FROM (${searchAll ? ALL_CANDIDATES : SHARED_CANDIDATES}) c
         LEFT JOIN profiles p ON p.user_id = c.user_id
         WHERE ${conditions.length > 0 ? conditions.join(' AND ') : '1'}
         ORDER BY p.displayname IS NULL, weft_fold(p.displayname), c.user_id
         LIMIT :limit`,
      );
      this.statements.set(key, statement);
    }
    return statement;
  }
}
