/**
 * Builds what application services use of the client API, from the
 * registrations read at start (registration-files.ts): token resolution,
 * registration and login, the network room lists, device management.
 */
import type { Logger } from 'pino';
import type { AccountService } from '../account/account-service.js';
import type { SessionService } from '../auth/sessions.js';
import type { DeviceService } from '../devices/device-service.js';
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { Storage } from '../storage/storage.js';
import { AppServiceAuth } from './appservice-auth.js';
import { AppServiceDevices } from './appservice-devices.js';
import { AppServiceDirectory } from './appservice-directory.js';
import { AppServiceAccounts } from './appservice-registration.js';

export interface AppServiceClientDeps {
  appServices: AppServiceAuth;
  appServiceAccounts: AppServiceAccounts;
  appServiceDirectory: AppServiceDirectory;
  appServiceDevices: AppServiceDevices;
}

export function buildAppServiceClientDeps(
  serverName: string,
  registrations: readonly AppServiceRegistration[],
  storage: Storage,
  services: {
    sessions: SessionService;
    accounts: AccountService;
    devices: DeviceService;
    rooms: { requireRoom(roomId: string): Promise<unknown> };
    /** Told when a service made a device, so room-mates' device lists change. */
    devicesChanged: (userId: string) => Promise<void>;
  },
  logger: Logger,
): AppServiceClientDeps {
  const appServices = new AppServiceAuth(registrations, serverName, storage);
  // The senders' accounts, made at start if missing (as the server notices user's).
  appServices
    .ensureSenders()
    .catch((err: unknown) => logger.error({ err }, 'application services: making sender users'));
  return {
    appServices,
    appServiceAccounts: new AppServiceAccounts(
      serverName,
      appServices,
      services.accounts,
      services.sessions,
      storage.users,
    ),
    appServiceDirectory: new AppServiceDirectory(storage.appServiceRoomList, services.rooms),
    appServiceDevices: new AppServiceDevices(
      storage.appServiceDevices,
      services.devices,
      services.devicesChanged,
    ),
  };
}
