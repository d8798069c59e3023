/** Builds the E2EE services and their /sync providers (wired by app.ts). */
import type { DeviceReader, MembershipReader } from '../storage/readers.js';
import type { Storage } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import type { SyncStreamProvider } from '../sync/sync-streams.js';
import { CrossSigningService } from './cross-signing.js';
import { DeviceListProvider, DeviceLists } from './device-lists.js';
import { KeyBackupService } from './key-backup.js';
import { KeyCountsProvider, KeysService } from './keys-service.js';
import { RemoteKeys, type RemoteKeyServers } from './remote-keys.js';
import { ToDeviceProvider, ToDeviceService, type RemoteToDeviceSink } from './to-device.js';

export interface E2eeServices {
  keys: KeysService;
  crossSigning: CrossSigningService;
  toDevice: ToDeviceService;
  keyBackup: KeyBackupService;
  deviceLists: DeviceLists;
  /** Other servers' users' keys (absent without federation): fed `eventsCommitted`. */
  remoteKeys?: RemoteKeys;
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
  /** Federation's queries of other servers' keys (federation/query-client.ts). */
  remote?: { servers: RemoteKeyServers; onError: (err: unknown) => void },
): { services: E2eeServices; providers: SyncStreamProvider[] } {
  const remoteKeys =
    remote &&
    new RemoteKeys({
      servers: remote.servers,
      serverName,
      sharesRoomWithLocalUser: async (userId) =>
        (await storage.deviceLists.usersSharingRoomWith(userId)).some(
          (mate) => mate.slice(mate.indexOf(':') + 1) === serverName,
        ),
      joinedMembers: (roomId) => storage.deviceLists.joinedMembers(roomId),
      onError: remote.onError,
    });
  const deviceLists = new DeviceLists(storage.deviceLists, notifier, (userId) =>
    remoteKeys?.forget(userId),
  );
  const keys = new KeysService(storage, serverName, deviceLists, remoteKeys);
  return {
    services: {
      keys,
      crossSigning: new CrossSigningService(storage, deviceLists),
      toDevice: new ToDeviceService(storage, notifier, serverName, remoteToDevice),
      keyBackup: new KeyBackupService(storage),
      deviceLists,
      ...(remoteKeys ? { remoteKeys } : {}),
    },
    providers: [
      new ToDeviceProvider(storage),
      new DeviceListProvider(deviceLists, storage.deviceLists),
      new KeyCountsProvider(keys, storage),
    ],
  };
}
