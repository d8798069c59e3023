/**
 * The Admin API's room actions and server notices, built from the services
 * they go through; the system user of server notices is made here at start
 * (when they are on).
 */
import type { Logger } from 'pino';
import type { AccountDataService } from '../account-data/account-data-service.js';
import type { Config } from '../config/config.js';
import type { CreateRoomRequest } from '../rooms/create-room.js';
import type { DirectoryService } from '../rooms/directory-service.js';
import type { MembershipService } from '../rooms/membership-service.js';
import type { RoomService } from '../rooms/room-service.js';
import type { Storage } from '../storage/storage.js';
import type { HistoryService } from '../sync/history-service.js';
import { AdminRoomActionService } from './admin-room-actions.js';
import { ServerNoticeService } from './server-notices.js';

export interface RoomActionServices {
  rooms: RoomService;
  membership: MembershipService;
  directory: DirectoryService;
  history: HistoryService;
  accountData: AccountDataService;
  createRoom: (request: CreateRoomRequest) => Promise<string>;
}

export function buildRoomActions(
  config: Config,
  storage: Storage,
  services: RoomActionServices,
  logger: Logger,
) {
  const actions = new AdminRoomActionService(config.server_name, storage, services);
  const notices = new ServerNoticeService(
    config.server_name,
    config.server_notices,
    storage,
    services,
  );
  notices
    .start()
    .catch((err: unknown) => logger.error({ err }, 'server notices: making the system user'));
  return { actions, notices };
}
