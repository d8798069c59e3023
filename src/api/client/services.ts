/** What the handlers of the client API are given: config and services, no storage. */
import type { RegistrationTokenService } from '../../auth/registration-token-service.js';
import type { Config } from '../../config/config.js';
import type { AccountService } from '../../account/account-service.js';
import type { LoginService } from '../../auth/login-service.js';
import type { SessionService } from '../../auth/sessions.js';
import type { UiaEngine } from '../../auth/uia.js';
import type { DeviceService } from '../../devices/device-service.js';
import type { E2eeServices } from '../../e2ee/build.js';
import type { RateLimiter } from '../../auth/rate-limit.js';
import type { RelationService } from '../../relations/relation-service.js';
import type { EventViews } from '../../sync/event-views.js';
import type { CreateRoomRequest } from '../../rooms/create-room.js';
import type { DirectoryService } from '../../rooms/directory-service.js';
import type { MembershipService } from '../../rooms/membership-service.js';
import type { RoomService } from '../../rooms/room-service.js';
import type { RoomStateService } from '../../rooms/room-state-service.js';
import type { UpgradeRoomRequest } from '../../rooms/upgrade-room.js';
import type { SyncFilter } from '../../sync/filters.js';
import type { HistoryService } from '../../sync/history-service.js';
import type { LegacySyncService } from '../../sync/legacy-sync.js';
import type { SyncService } from '../../sync/sync-service.js';
import type { SlidingSyncService } from '../../sliding-sync/sliding-sync-service.js';
import type { UserDataDeps } from './user-data.js';
import type { AppServiceAuth } from '../../appservice/appservice-auth.js';
import type { AppServiceAccounts } from '../../appservice/appservice-registration.js';
import type { AppServiceDirectory } from '../../appservice/appservice-directory.js';
import type { AppServiceDevices } from '../../appservice/appservice-devices.js';

export interface RateLimiters {
  loginPerIp: RateLimiter;
  loginFailuresPerAccount: RateLimiter;
  registrationPerIp: RateLimiter;
  registrationTokenValidityPerIp: RateLimiter;
  usernameAvailablePerIp: RateLimiter;
  getLoginTokenPerUser: RateLimiter;
}

export interface RoomDeps {
  rooms: RoomService;
  views: EventViews;
  membership: MembershipService;
  state: RoomStateService;
  directory: DirectoryService;
  creation: {
    /** createRoom; answers the new room's ID. */
    create(request: CreateRoomRequest): Promise<string>;
    /** A room upgrade; answers the replacement room's ID. */
    upgrade(request: UpgradeRoomRequest): Promise<string>;
  };
}

export interface SyncDeps {
  sync: SyncService;
  /** Simplified sliding sync (MSC4186), Element X's sync. */
  slidingSync: SlidingSyncService;
  history: HistoryService;
  /** The r0-era /initialSync, /rooms/{roomId}/initialSync and /events. */
  legacy: LegacySyncService;
  /** The `filter` parameter of /sync: the ID of one of the user's filters, or inline JSON. */
  resolveFilter(userId: string, param: string | undefined): Promise<SyncFilter>;
  /** Shutdown: answers every waiting long-poll now, and any later one at once. */
  stopWaiting(): void;
}

export interface ClientApiServices {
  roomDeps: RoomDeps;
  syncDeps: SyncDeps;
  /** Relations and threads; checks relations before they are sent. */
  relations: RelationService;
  /** Account data, typing, receipts, profiles, presence, the user directory, reports. */
  userData: UserDataDeps;
  config: Config;
  accounts: AccountService;
  login: LoginService;
  sessions: SessionService;
  uia: UiaEngine;
  /** Whether registration needs a token, validity, and counting a token's uses. */
  registrationTokens: RegistrationTokenService;
  devices: DeviceService;
  e2ee: E2eeServices;
  limits: RateLimiters;
  /** The UIA flows that re-authenticate an existing user. */
  reauthFlows(userId: string): Promise<string[][]>;
  /** Application services: their tokens and namespaces (M_EXCLUSIVE checks). */
  appServices: AppServiceAuth;
  /** Services' registrations and logins of their users (m.login.application_service). */
  appServiceAccounts: AppServiceAccounts;
  /** Rooms services publish under their third-party networks. */
  appServiceDirectory: AppServiceDirectory;
  /** Devices services make and delete for their users (MSC4190). */
  appServiceDevices: AppServiceDevices;
}
