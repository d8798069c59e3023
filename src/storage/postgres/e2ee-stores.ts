/** The PostgreSQL stores of end-to-end encryption: keys, device lists, to-device messages, key backup. */
import type { DeviceListStore, E2eeKeyStore, KeyBackupStore, ToDeviceStore } from '../storage.js';
import type { PgDatabase } from './database.js';
import type { PgStreams } from './streams.js';
import { PgDeviceListStore, PgE2eeKeyStore, keyCountCacheOf } from './e2ee-store.js';
import { PgKeyBackupStore } from './key-backup-store.js';
import { PgToDeviceStore } from './to-device-store.js';

export async function openE2eeStores(
  db: PgDatabase,
  streams: PgStreams,
): Promise<{
  e2eeKeys: E2eeKeyStore;
  deviceLists: DeviceListStore;
  toDevice: ToDeviceStore;
  keyBackup: KeyBackupStore;
}> {
  return {
    e2eeKeys: new PgE2eeKeyStore(db, streams.deviceLists, keyCountCacheOf(db)),
    deviceLists: new PgDeviceListStore(db, streams.deviceLists, streams.events),
    toDevice: new PgToDeviceStore(db, streams.toDevice),
    keyBackup: new PgKeyBackupStore(db),
  };
}
