/** Builds the E2EE services and their /sync providers (wired by app.ts). */
import type { DeviceReader, MembershipReader } from '../storage/readers.js';
import type { Storage } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import type { SyncStreamProvider } from '../sync/sync-streams.js';
import { CrossSigningService } from './cross-signing.js';
import { DeviceListProvider, DeviceLists } from './device-lists.js';
import { KeyBackupService } from './key-backup.js';
import { KeyCountsProvider, KeysService } from './keys-service.js';
import { ToDeviceProvider, ToDeviceService, type RemoteToDeviceSink } from './to-device.js';

export interface E2eeServices {
  keys: KeysService;
  crossSigning: CrossSigningService;
  toDevice: ToDeviceService;
  keyBackup: KeyBackupService;
  deviceLists: DeviceLists;
}

/** E2EE's own stores, and the devices and joined rooms its services read. */
export type E2eeStorage = Pick<Storage, 'e2eeKeys' | 'deviceLists' | 'toDevice' | 'keyBackup'> & {
  devices: DeviceReader;
  rooms: MembershipReader;
};

export function buildE2ee(
  serverName: string,
  storage: E2eeStorage,
  notifier: Notifier,
  /** Federation's sender of to-device messages to remote users (federation sending, F). */
  remoteToDevice?: RemoteToDeviceSink,
): { services: E2eeServices; providers: SyncStreamProvider[] } {
  const deviceLists = new DeviceLists(storage.deviceLists, notifier);
  const keys = new KeysService(storage, serverName, deviceLists);
  return {
    services: {
      keys,
      crossSigning: new CrossSigningService(storage, deviceLists),
      toDevice: new ToDeviceService(storage, notifier, serverName, remoteToDevice),
      keyBackup: new KeyBackupService(storage),
      deviceLists,
    },
    providers: [
      new ToDeviceProvider(storage),
      new DeviceListProvider(deviceLists, storage.deviceLists),
      new KeyCountsProvider(keys, storage),
    ],
  };
}
