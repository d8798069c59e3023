/**
 * `GET /_synapse/admin/v1/users/{userId}/accountdata`: all of a user's
 * account data, global and per room, in Synapse's shape (Ketesa shows it on
 * the user's page). Push rules are kept apart, as in Synapse, and not listed:
 * their `m.push_rules` row is an empty marker that moves the stream.
 */
import { PUSH_RULES } from '../account-data/account-data-rules.js';
import type { AccountDataRecord } from '../domain/records.js';
import { errors } from '../protocol/errors.js';
import type { AccountDataStore, UserStore } from '../storage/storage.js';
import { checkLocalUserId } from './admin-rules.js';

export interface AdminAccountDataJson {
  account_data: {
    global: Record<string, Record<string, unknown>>;
    rooms: Record<string, Record<string, Record<string, unknown>>>;
  };
}

/** The records grouped as the Admin API answers them. Pure. */
export function accountDataJson(records: readonly AccountDataRecord[]): AdminAccountDataJson {
  const global: AdminAccountDataJson['account_data']['global'] = {};
  const rooms: AdminAccountDataJson['account_data']['rooms'] = {};
  for (const record of records) {
    if (record.type === PUSH_RULES) continue;
    const into = record.roomId === undefined ? global : (rooms[record.roomId] ??= {});
    into[record.type] = record.content;
  }
  return { account_data: { global, rooms } };
}

export interface AdminAccountDataStorage {
  users: Pick<UserStore, 'getUser'>;
  accountData: Pick<AccountDataStore, 'changes' | 'maxStreamId'>;
}

export class AdminAccountDataService {
  constructor(
    private readonly serverName: string,
    private readonly storage: AdminAccountDataStorage,
  ) {}

  async of(userId: string): Promise<AdminAccountDataJson> {
    checkLocalUserId(userId, this.serverName);
    if (!(await this.storage.users.getUser(userId))) throw errors.notFound('User not found');
    // Every (room, type) is one row, replaced in place: the changes since the
    // stream's start are exactly the current data.
    const upTo = await this.storage.accountData.maxStreamId();
    return accountDataJson(await this.storage.accountData.changes(userId, 0, upTo));
  }
}
