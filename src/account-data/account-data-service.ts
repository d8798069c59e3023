/**
 * Account data: the endpoints' reads and writes, the ignored-user lists every
 * history read consults, and the accountData stream of /sync.
 *
 * Each write is one transaction whose AUTOINCREMENT row ID is the change's
 * stream position; the notifier is told after it commits, for the owner only.
 * Ignored-user lists are cached per user (they are read on every history page
 * of that user): loaded on first use, replaced on each write.
 */
import { LruCache } from '../util/lru-cache.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { AccountDataRecord, AccountDataStore } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import {
  IGNORED_USER_LIST,
  ignoredUsersOf,
  withTag,
  withoutTag,
  TAGS,
  type AccountDataContent,
} from './account-data-rules.js';

/** Ignored-user lists kept in memory; the least recently used are dropped beyond this. */
const MAX_CACHED_LISTS = 50_000;
const NONE: ReadonlySet<string> = new Set();

export class AccountDataService {
  private readonly ignored = new LruCache<string, ReadonlySet<string>>(MAX_CACHED_LISTS);
  /** Tag edits are read-modify-write of `m.tag`: one at a time per user. */
  private readonly edits = new KeyedLock();

  constructor(
    private readonly store: AccountDataStore,
    private readonly notifier: Notifier,
  ) {}

  async get(userId: string, roomId: string | undefined, type: string) {
    return (await this.store.get(userId, roomId, type))?.content;
  }

  async put(
    userId: string,
    roomId: string | undefined,
    type: string,
    content: AccountDataContent,
  ): Promise<void> {
    const position = await this.store.put(userId, roomId, type, content);
    if (roomId === undefined && type === IGNORED_USER_LIST) {
      this.cache(userId, ignoredUsersOf(content));
    }
    this.notifier.notify({ stream: 'accountData', position, userIds: [userId] });
  }

  async putTag(userId: string, roomId: string, tag: string, body: AccountDataContent) {
    await this.edits.run(userId, async () => {
      const current = await this.get(userId, roomId, TAGS);
      await this.put(userId, roomId, TAGS, withTag(current, tag, body));
    });
  }

  async deleteTag(userId: string, roomId: string, tag: string) {
    await this.edits.run(userId, async () => {
      const current = await this.get(userId, roomId, TAGS);
      await this.put(userId, roomId, TAGS, withoutTag(current, tag));
    });
  }

  /** The users whose events `userId` does not want to see (the m.ignored_user_list). */
  async ignoredBy(userId: string): Promise<ReadonlySet<string>> {
    const cached = this.ignored.get(userId);
    if (cached) return cached;
    const record = await this.store.get(userId, undefined, IGNORED_USER_LIST);
    // A write that landed meanwhile cached the newer list: keep it.
    return this.ignored.get(userId) ?? this.cache(userId, ignoredUsersOf(record?.content));
  }

  changes(userId: string, after: number, upTo: number): Promise<AccountDataRecord[]> {
    return this.store.changes(userId, after, upTo);
  }

  whole(userId: string, roomIds: readonly string[], global: boolean) {
    return this.store.whole(userId, roomIds, global);
  }

  currentPosition(): Promise<number> {
    return this.store.maxStreamId();
  }

  private cache(userId: string, users: Set<string>): ReadonlySet<string> {
    const list = users.size === 0 ? NONE : users;
    this.ignored.set(userId, list);
    return list;
  }
}
