/**
 * Homeserver → application service, assembled: the one HTTP client, the
 * transaction workers, the ping. app.ts builds it once and feeds the workers
 * from `eventsCommitted`.
 */
import type { Logger } from 'pino';
import type { AppServiceRegistration } from '../domain/appservice.js';
import type { Storage } from '../storage/storage.js';
import { AppServiceHttp } from './appservice-http.js';
import { AppServicePing } from './appservice-ping.js';
import { AppServicePushers } from './appservice-pusher.js';
import { AppServiceEphemeral, type EphemeralSources } from './appservice-pusher-ephemeral.js';
import type { Notifier } from '../sync/notifier.js';
import { AppServiceQueries } from './appservice-queries.js';
import { AppServiceThirdParty } from './appservice-thirdparty.js';

export interface AppServiceOutConfig {
  server_name: string;
  app_service_ip_range_whitelist: string[];
}

export function buildAppServiceOut(
  config: AppServiceOutConfig,
  registrations: readonly AppServiceRegistration[],
  storage: Storage,
  logger: Logger,
  ephemeral: { notifier: Notifier; sources: EphemeralSources },
) {
  const http = new AppServiceHttp({ allowedRanges: config.app_service_ip_range_whitelist });
  const queries = new AppServiceQueries(registrations, http, config.server_name, logger);
  const pushers = new AppServicePushers(registrations, {
    storage,
    serverName: config.server_name,
    http,
    logger,
    ensureUserKnown: (userId) => queries.ensureKnown(userId, storage.users),
  });
  pushers.start();
  const ephemeralFeed = new AppServiceEphemeral(
    pushers.workers,
    ephemeral.sources,
    storage,
    logger,
  );
  ephemeral.notifier.observe((change) => ephemeralFeed.observe(change));
  return {
    http,
    pushers,
    ping: new AppServicePing(registrations, http),
    queries,
    thirdParty: new AppServiceThirdParty(registrations, http, logger),
    close: () => pushers.close(),
  };
}
