/**
 * Wires Weft together: storage → services → HTTP routes. `startWeft` is what
 * `weft start` and the end-to-end tests call.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Config } from './config/config.js';
import { AccountService } from './account/account-service.js';
import { LoginService } from './auth/login-service.js';
import { SessionService } from './auth/sessions.js';
import { UiaEngine } from './auth/uia.js';
import { STAGE_DUMMY, STAGE_PASSWORD, uiaStageVerifiers } from './auth/uia-stages.js';
import { loadOrCreateServerKeys, type ServerKeys } from './crypto/server-keys.js';
import { DeviceService } from './devices/device-service.js';
import { RateLimiter } from './http/rate-limit.js';
import { Router } from './http/router.js';
import { createHttpServer } from './http/server.js';
import type { EventRecord, Storage } from './storage/storage.js';
import { openSqliteStorage } from './storage/sqlite/sqlite-storage.js';
import type { ClientApiServices, SyncDeps } from './api/client/services.js';
import { registerAccountRoutes } from './api/client/account.js';
import { registerDeviceRoutes } from './api/client/devices.js';
import { registerDirectoryRoutes } from './api/client/directory.js';
import { registerDiscoveryRoutes } from './api/client/discovery.js';
import { registerFilterRoutes } from './api/client/filters.js';
import { registerPushRuleRoutes } from './api/client/push-rules.js';
import { registerLoginRoutes } from './api/client/login.js';
import { registerRegistrationRoutes } from './api/client/register.js';
import { registerRoomRoutes } from './api/client/rooms.js';
import { registerSyncRoutes } from './api/client/sync.js';
import { registerLegacySyncRoutes } from './api/client/legacy-sync.js';
import { EventViews } from './rooms/event-views.js';
import { RoomService } from './rooms/room-service.js';
import { FilterService } from './sync/filter-service.js';
import { PushRuleService } from './push/push-rule-service.js';
import { HistoryService } from './sync/history-service.js';
import { LegacySyncService } from './sync/legacy-sync.js';
import { Notifier } from './sync/notifier.js';
import { RecentEvents } from './sync/recent-events.js';
import { RoomHistory } from './sync/room-history.js';
import { visibilityCheckFor } from './sync/room-visibility.js';
import { SyncService } from './sync/sync-service.js';
import type { SyncStreamProvider } from './sync/sync-streams.js';
import { registerFallbackRoutes } from './api/static/fallback.js';

export interface Weft {
  app: FastifyInstance;
  config: Config;
  storage: Storage;
  keys: ServerKeys;
  /** The base URL the server listens at, once started. */
  url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
}

export function databasePath(config: Config): string {
  return path.join(config.data_dir, 'weft.db');
}

export function createLogger(config: Config): Logger {
  return pino({
    level: config.log_level,
    // Defence in depth: never let a secret through, whatever gets logged. No
    // wildcard paths: they make every per-request child logger slower to create.
    redact: {
      paths: [
        'password',
        'new_password',
        'access_token',
        'auth.password',
        'headers.authorization',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}

/**
 * Sync and history: the notifier learns of every committed batch of room events
 * (waking the rooms', and for member events the users', long-polls), and starts
 * from the newest position in storage.
 */
function buildSync(
  storage: Storage,
  rooms: RoomService,
  views: EventViews,
  filters: FilterService,
  notifier: Notifier,
  providers: readonly SyncStreamProvider[],
): SyncDeps {
  const recent = new RecentEvents();
  const announce = (records: EventRecord[]) => {
    // The cache first: a sync woken by the notifier finds the events there.
    recent.add(records);
    for (const record of records) {
      const { type, state_key: stateKey } = record.pdu;
      notifier.notify({
        stream: 'roomEvents',
        position: record.streamOrdering,
        roomIds: [record.roomId],
        userIds: type === 'm.room.member' && stateKey !== undefined ? [stateKey] : [],
      });
    }
  };
  rooms.onCommitted(announce);
  const ready = startPositions(storage, notifier, providers);
  const history = new RoomHistory(storage, visibilityCheckFor(storage), recent);
  const historyService = new HistoryService(storage, views, history, notifier);
  return {
    sync: new SyncService(storage, views, history, notifier, ready, providers),
    history: historyService,
    legacy: new LegacySyncService(storage, views, history, historyService, notifier, ready),
    resolveFilter: (userId, param) => filters.resolve(userId, param),
    stopWaiting: () => notifier.close(),
  };
}

/** Tells the notifier where each stream stands in storage, before any sync reads. */
async function startPositions(
  storage: Storage,
  notifier: Notifier,
  providers: readonly SyncStreamProvider[],
): Promise<void> {
  notifier.notify({ stream: 'roomEvents', position: await storage.rooms.maxStreamOrdering() });
  for (const provider of providers) {
    if (provider.stream && provider.currentPosition) {
      notifier.notify({ stream: provider.stream, position: await provider.currentPosition() });
    }
  }
}

/** Builds the server and its services without listening. */
export function buildWeft(config: Config, logger: Logger) {
  mkdirSync(config.data_dir, { recursive: true });
  const keys = loadOrCreateServerKeys(config.data_dir, config.server_name);
  const storage = openSqliteStorage(databasePath(config));
  const sessions = new SessionService(storage);
  const login = new LoginService(config, storage, sessions, keys.loginTokenSecret);
  const rl = config.rate_limits;
  const limits = {
    loginPerIp: new RateLimiter(rl.login_per_ip, rl.enabled),
    loginFailuresPerAccount: new RateLimiter(rl.login_failures_per_account, rl.enabled),
    registrationPerIp: new RateLimiter(rl.registration_per_ip, rl.enabled),
    registrationTokenValidityPerIp: new RateLimiter(
      rl.registration_token_validity_per_ip,
      rl.enabled,
    ),
  };
  const stageVerifiers = uiaStageVerifiers(config, storage, login, {
    passwordFailuresPerAccount: limits.loginFailuresPerAccount,
    registrationTokensPerIp: limits.registrationTokenValidityPerIp,
  });
  const rooms = new RoomService(config, storage, keys.signingKey);
  const views = new EventViews(storage);
  // Wakes long-polls. Every stream besides room events is a provider of /sync (sync-streams.ts)
  // whose service tells the notifier of each committed change: add them to syncProviders.
  const notifier = new Notifier();
  const syncProviders: SyncStreamProvider[] = [];
  // One FilterService for the filter endpoints and /sync: it caches parsed filters.
  const filters = new FilterService(storage.filters);
  // One PushRuleService: it serialises each user's edits (and /sync will read it).
  const pushRules = new PushRuleService(storage.pushRules);
  const services: ClientApiServices = {
    config,
    roomDeps: { rooms, views, storage },
    syncDeps: buildSync(storage, rooms, views, filters, notifier, syncProviders),
    accounts: new AccountService(config, storage, sessions),
    login,
    sessions,
    uia: new UiaEngine(storage, config.uia.session_lifetime_ms, stageVerifiers),
    devices: new DeviceService(storage, sessions),
    limits,
    // Users without a password (upgraded guests who set none) confirm with a dummy stage.
    reauthFlows: async (userId) =>
      (await storage.users.getUser(userId))?.passwordHash ? [[STAGE_PASSWORD]] : [[STAGE_DUMMY]],
  };

  const app = createHttpServer({
    logger,
    trustProxy: config.x_forwarded,
    maxBodyBytes: config.max_request_body_bytes,
    logRequests: config.log_requests,
  });
  const router = new Router(app, sessions);
  registerDiscoveryRoutes(router, services);
  registerLoginRoutes(router, services);
  registerRegistrationRoutes(router, services);
  registerAccountRoutes(router, services);
  registerDeviceRoutes(router, services);
  registerRoomRoutes(router, services);
  registerDirectoryRoutes(router, services);
  registerFilterRoutes(router, filters);
  registerPushRuleRoutes(router, pushRules);
  registerSyncRoutes(router, services);
  registerLegacySyncRoutes(router, services);
  registerFallbackRoutes(router, services);
  router.finish();

  const close = async () => {
    // Long-polls answer at once, or closing would wait for their timeouts.
    services.syncDeps.stopWaiting();
    await app.close();
    await sessions.close();
    await storage.close();
  };
  return { app, storage, keys, services, close };
}

export async function startWeft(config: Config, options: StartOptions = {}): Promise<Weft> {
  const logger = options.logger ?? createLogger(config);
  const built = buildWeft(config, logger);
  try {
    await built.app.listen({ host: config.bind, port: config.port });
  } catch (err) {
    await built.close();
    throw err;
  }
  const address = built.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.bind.includes(':') ? `[${config.bind}]` : config.bind;
  return {
    app: built.app,
    config,
    storage: built.storage,
    keys: built.keys,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: built.close,
  };
}
