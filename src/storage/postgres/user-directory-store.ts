/**
 * The user directory in PostgreSQL, read from current memberships and profiles
 * at query time as in SQLite. SQLite folds case with JavaScript's toLowerCase
 * (full Unicode case mapping, final sigma included) and compares bytes; here
 * lower() under the ICU root collation folds the same way where PostgreSQL
 * has ICU (a libc lower() otherwise: simple case mapping only), and COLLATE
 * "C" compares bytes.
 */
import type { DirectoryUser, UserDirectoryQuery, UserDirectoryStore } from '../storage.js';
import {
  type DirectoryUserRow,
  MAX_SEARCH_WORDS,
  toDirectoryUser,
} from '../common/user-data-rows.js';
import type { PgExecutor } from './database.js';
import { CURRENT_STATE_WITH_JSON, STATE_EVENT_JSON } from '../common/current-state-sql.js';

const ICU_ROOT_COLLATION = 'und-x-icu';

/**
 * A field of an event's content. PostgreSQL's JSON functions refuse a \u0000
 * escape anywhere in the text (NUL cannot be text): replaced by another escape
 * of the same shape first, which keeps the JSON valid and every other value as it was.
 */
const contentField = (field: string): string =>
  `replace(${STATE_EVENT_JSON}, '\\u0000', '\\ufffd')::json #>> '{content,${field}}'`;

/** Rooms whose joined members the searcher may find: theirs, and public or world-readable ones. */
const visibleRooms = (searcher: string): string => `
  SELECT room_id FROM current_state
    WHERE type = 'm.room.member' AND state_key = ${searcher} AND membership = 'join'
  UNION
  SELECT cs.room_id FROM ${CURRENT_STATE_WITH_JSON}
    WHERE cs.type = 'm.room.join_rules' AND cs.state_key = ''
      AND ${contentField('join_rule')} = 'public'
  UNION
  SELECT cs.room_id FROM ${CURRENT_STATE_WITH_JSON}
    WHERE cs.type = 'm.room.history_visibility' AND cs.state_key = ''
      AND ${contentField('history_visibility')} = 'world_readable'`;

const sharedCandidates = (searcher: string): string => `
  SELECT DISTINCT cs.state_key AS user_id FROM current_state cs
    WHERE cs.type = 'm.room.member' AND cs.membership = 'join'
      AND cs.room_id IN (${visibleRooms(searcher)})`;

const ALL_CANDIDATES = 'SELECT user_id FROM users WHERE deactivated = 0';

export class PgUserDirectoryStore implements UserDirectoryStore {
  private constructor(
    private readonly db: PgExecutor,
    /** SQL that case-folds a text expression, compared byte for byte. */
    private readonly fold: (expression: string) => string,
  ) {}

  static async open(db: PgExecutor): Promise<PgUserDirectoryStore> {
    const icu = await db.row<{ found: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = $1) AS found',
      [ICU_ROOT_COLLATION],
    );
    const collation = icu?.found ? ` COLLATE "${ICU_ROOT_COLLATION}"` : '';
    return new PgUserDirectoryStore(
      db,
      (expression) => `lower((${expression})${collation}) COLLATE "C"`,
    );
  }

  async search(query: UserDirectoryQuery): Promise<DirectoryUser[]> {
    const params: unknown[] = [];
    // Values are numbered as the text uses them: a parameter it never names (the
    // searcher, when searching all users) would have no type PostgreSQL can infer.
    const bind = (value: unknown): string => `$${params.push(value)}::text`;
    const candidates = query.searchAllUsers
      ? ALL_CANDIDATES
      : sharedCandidates(bind(query.searcher));
    const haystack = this.fold(`c.user_id || ' ' || COALESCE(p.displayname, '')`);
    const conditions = query.words
      .slice(0, MAX_SEARCH_WORDS)
      .map((word) => `strpos(${haystack}, ${bind(word)}) > 0`);
    params.push(query.limit);
    const rows = await this.db.rows<DirectoryUserRow>(
      `SELECT c.user_id, p.displayname, p.avatar_url
       FROM (${candidates}) c
       LEFT JOIN profiles p ON p.user_id = c.user_id
       WHERE ${conditions.length > 0 ? conditions.join(' AND ') : 'TRUE'}
       ORDER BY p.displayname IS NULL, ${this.fold('p.displayname')}, c.user_id COLLATE "C"
       LIMIT $${params.length}`,
      params,
    );
    return rows.map(toDirectoryUser);
  }
}
