/**
 * Push, wired: rule evaluation on every committed batch of room events, the
 * unread counts of /sync, pushers kicked by new notifications, and read
 * notifications pruned once old.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { HiddenSenders } from '../sync/room-history.js';
import { NotificationPruner } from './notification-pruning.js';
import { NotificationService, type NotificationServiceStorage } from './notification-service.js';
import type { PushRuleService } from './push-rule-service.js';
import { PusherService, type PusherServiceStorage } from './pusher-service.js';
import { UnreadCountsSyncProvider } from './unread-sync.js';

/** What push's services read and write, together. */
export type PushStorage = NotificationServiceStorage & PusherServiceStorage;

export function buildPush(
  config: Config,
  storage: PushStorage,
  pushRules: PushRuleService,
  ignoredBy: HiddenSenders,
  logger: Logger,
) {
  const notifications = new NotificationService(
    storage,
    pushRules,
    ignoredBy,
    config.server_name,
    logger,
    config.push.enabled,
  );
  const pushers = new PusherService(storage, config.push, logger);
  const pruner = new NotificationPruner(storage.notifications, logger);
  notifications.onNotified((userIds) => userIds.forEach((userId) => pushers.kick(userId)));
  notifications.start();
  pushers.start().catch((err: unknown) => logger.error({ err }, 'push: starting pushers'));
  pruner.start();
  return {
    notifications,
    pushers,
    syncProvider: new UnreadCountsSyncProvider(notifications),
    close: async () => {
      await pruner.close();
      await pushers.close();
      await notifications.close();
    },
  };
}
