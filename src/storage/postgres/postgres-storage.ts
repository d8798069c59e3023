/** The PostgreSQL backend: the same stores as SQLite's, over a connection pool. */
import type { Storage } from '../storage.js';
import { PgDatabase } from './database.js';
import { openAccountStores } from './account-stores.js';
import { openRoomStores } from './room-stores.js';
import { openRelationPushStores } from './relation-push-stores.js';
import { openE2eeStores } from './e2ee-stores.js';
import { openUserDataStores } from './user-data-stores.js';
import { openStreams } from './streams.js';
import { PgAccountModerationStore } from './account-moderation-store.js';
import { PgForwardExtremityStore } from './forward-extremity-store.js';
import { PgAdminJobStore } from './admin-job-store.js';
import { PgMutualRoomStore } from './mutual-room-store.js';
import { PgOpenIdTokenStore } from './openid-token-store.js';
import { PgSlidingSyncStore } from './sliding-sync-store.js';
import { PgAppServiceTransactionStore } from './appservice-store.js';
import { PgAppServiceRoomListStore } from './appservice-room-list-store.js';
import { PgAppServiceDeviceStore } from './appservice-device-store.js';
import { PgRegistrationTokenStore } from './registration-token-store.js';
import { PgMediaAdminStore } from './media-admin-store.js';
import { PgSearchStore } from './search-store.js';
import { PgServerKeyStore } from './server-key-store.js'; // federation keys
import { PgFederationSendingStore } from './federation-sending-store.js';

export interface PostgresStorageOptions {
  /** Connections the pool opens at most. */
  poolSize: number;
}

export async function openPostgresStorage(
  url: string,
  options: PostgresStorageOptions,
): Promise<Storage> {
  const db = await PgDatabase.open(url, { poolSize: options.poolSize });
  try {
    const streams = await openStreams(db);
    const relationPush = await openRelationPushStores(db, streams);
    const rooms = await openRoomStores(db, streams, relationPush.relationIndex);
    const accounts = await openAccountStores(db, streams);
    const e2ee = await openE2eeStores(db, streams);
    const userData = await openUserDataStores(db, streams);
    return {
      ...accounts,
      ...rooms,
      relations: relationPush.relations,
      notifications: relationPush.notifications,
      ...e2ee,
      ...userData,
      moderation: new PgAccountModerationStore(db),
      registrationTokens: new PgRegistrationTokenStore(db),
      mediaAdmin: new PgMediaAdminStore(db),
      extremities: new PgForwardExtremityStore(db),
      adminJobs: new PgAdminJobStore(db),
      search: new PgSearchStore(db),
      mutualRooms: new PgMutualRoomStore(db),
      openIdTokens: new PgOpenIdTokenStore(db),
      appServiceTransactions: new PgAppServiceTransactionStore(db),
      appServiceRoomList: new PgAppServiceRoomListStore(db),
      appServiceDevices: new PgAppServiceDeviceStore(db),
      slidingSync: new PgSlidingSyncStore(db),
      serverKeys: new PgServerKeyStore(db), // federation keys
      federationSending: new PgFederationSendingStore(db),
      // A connection of the pool answers (waiting for one if all are busy).
      ping: async () => {
        await db.run('SELECT 1');
      },
      close: async () => {
        await relationPush.flush();
        await rooms.flush();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
