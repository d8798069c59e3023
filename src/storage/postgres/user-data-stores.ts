/** The PostgreSQL stores of users' own data: account data, receipts, presence, the user directory. */
import type { Storage } from '../storage.js';
import type { PgDatabase } from './database.js';
import type { PgStreams } from './streams.js';
import { PgAccountDataStore } from './account-data-store.js';
import { PgReceiptStore } from './receipt-store.js';
import { PgPresenceStore } from './presence-store.js';
import { PgUserDirectoryStore } from './user-directory-store.js';

export async function openUserDataStores(
  db: PgDatabase,
  streams: PgStreams,
): Promise<Pick<Storage, 'accountData' | 'receipts' | 'presence' | 'userDirectory'>> {
  return {
    accountData: new PgAccountDataStore(db, streams.accountData),
    receipts: new PgReceiptStore(db, streams.receipts),
    presence: new PgPresenceStore(db, streams.presence),
    userDirectory: await PgUserDirectoryStore.open(db),
  };
}
