/**
 * Wires Weft together: storage → services → HTTP routes. `startWeft` is what
 * `weft start` and the end-to-end tests call.
 */
import { loadRegistrations } from './appservice/registration-files.js';
import { buildAppServiceClientDeps } from './appservice/appservice-build.js';
import { registerAppServiceDirectoryRoutes } from './api/client/appservice-directory.js';
import { mkdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { logDestination } from './http/log-destination.js';
import type { Config } from './config/config.js';
import { AccountService } from './account/account-service.js';
import { DeactivationLeaves } from './account/deactivation-leaves.js';
import { LoginService } from './auth/login-service.js';
import { SessionService } from './auth/sessions.js';
import { UiaEngine } from './auth/uia.js';
import { STAGE_DUMMY, STAGE_PASSWORD, uiaStageVerifiers } from './auth/uia-stages.js';
import { RegistrationTokenService } from './auth/registration-token-service.js';
import { loadOrCreateServerKeys, type ServerKeys } from './crypto/server-keys.js';
import { DeviceService } from './devices/device-service.js';
import { RateLimiter } from './auth/rate-limit.js';
import { Router } from './http/router.js';
import { closeHttpServer, createHttpServer, withRawBodyRoutes } from './http/server.js';
import type { ServerEventBus, ServerEvents } from './domain/server-events.js';
import type { EventRecord, Storage } from './storage/storage.js';
import { EventBus } from './util/event-bus.js';
import { Metrics } from './metrics/metrics.js';
import { listenMetrics, type MetricsListener } from './metrics/metrics-server.js';
import { registerHealthRoute } from './api/health.js';
import { openStorage, sqliteDatabasePath } from './storage/open-storage.js';
import type { ClientApiServices, RoomDeps, SyncDeps } from './api/client/services.js';
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
import { registerKeyRoutes } from './api/client/keys.js';
import { registerRoomKeyRoutes } from './api/client/room-keys.js';
import { registerToDeviceRoutes } from './api/client/to-device.js';
import { buildE2ee } from './e2ee/build.js';
import { registerRelationRoutes } from './api/client/relations.js';
import { registerHierarchyRoutes } from './api/client/hierarchy.js';
import { HierarchyService } from './rooms/hierarchy.js';
import { RelationService } from './relations/relation-service.js';
import { registerMediaRoutes, registerMediaUploadRoutes } from './api/client/media.js';
import { buildMediaService } from './media/build.js';
import { registerUrlPreviewRoutes } from './api/client/url-preview.js';
import { buildUrlPreviewService } from './media/url-preview-service.js';
import { registerLegacySyncRoutes } from './api/client/legacy-sync.js';
import { EventViews } from './sync/event-views.js';
import { createRoom } from './rooms/create-room.js';
import type { RemoteMembership } from './rooms/remote-membership.js';
import { DirectoryService } from './rooms/directory-service.js';
import { MembershipService } from './rooms/membership-service.js';
import { RoomService } from './rooms/room-service.js';
import { RoomStateService } from './rooms/room-state-service.js';
import { upgradeRoom } from './rooms/upgrade-room.js';
import { FilterService } from './sync/filter-service.js';
import { PushRuleService } from './push/push-rule-service.js';
import { buildPush } from './push/build.js';
import { registerPusherRoutes } from './api/client/pushers.js';
import { registerNotificationRoutes } from './api/client/notifications.js';
import { HistoryService } from './sync/history-service.js';
import { LegacySyncService } from './sync/legacy-sync.js';
import { Notifier } from './sync/notifier.js';
import { RecentEvents } from './sync/recent-events.js';
import { RoomHistory } from './sync/room-history.js';
import { visibilityCheckFor } from './sync/room-visibility.js';
import { SyncService } from './sync/sync-service.js';
import { SlidingSyncService } from './sliding-sync/sliding-sync-service.js';
import { registerSlidingSyncRoutes } from './api/client/sliding-sync.js';
import type { SyncStreamProvider } from './sync/sync-streams.js';
import { registerFallbackRoutes } from './api/static/fallback.js';
import { AccountDataService } from './account-data/account-data-service.js';
import { PUSH_RULES } from './account-data/account-data-rules.js';
import { AccountDataSyncProvider } from './account-data/account-data-sync.js';
import { MemberProfiles } from './rooms/member-profiles.js';
import { registerAccountDataRoutes } from './api/client/account-data.js';
import { registerEphemeralRoutes } from './api/client/ephemeral.js';
import { registerPresenceRoutes } from './api/client/presence.js';
import { registerProfileRoutes } from './api/client/profile.js';
import { registerReportRoutes } from './api/client/reports.js';
import { registerUserDirectoryRoutes } from './api/client/user-directory.js';
import type { UserDataDeps } from './api/client/user-data.js';
import { ReceiptService, type ReadPositions } from './ephemeral/receipt-service.js';
import { ReceiptSyncProvider } from './ephemeral/receipt-sync.js';
import { TypingService } from './ephemeral/typing-service.js';
import { PresenceService } from './presence/presence-service.js';
import { PresenceSyncProvider } from './presence/presence-sync.js';
import { MemberProfilePropagation } from './profiles/member-profile-propagation.js';
import { ProfileService } from './profiles/profile-service.js';
import { ReportService } from './reports/report-service.js';
import type { HiddenSenders } from './sync/room-history.js';
import { UserDirectoryService } from './user-directory/user-directory-service.js';
import { AdminUserService, weftVersion } from './admin/admin-user-service.js';
import { AdminRoomService } from './admin/admin-room-service.js';
import { SharedSecretRegistration } from './admin/shared-secret-registration.js';
import { registerAdminRoomRoutes } from './api/admin/rooms.js';
import { registerAdminRoomModerationRoutes } from './api/admin/room-moderation.js';
import { buildRoomModeration } from './admin/room-moderation-build.js';
import { AdminAccountDataService } from './admin/admin-account-data.js';
import { registerAdminAccountDataRoutes } from './api/admin/user-account-data.js';
import { EventByTimestampService } from './rooms/event-by-timestamp.js';
import { registerTimestampToEventRoutes } from './api/client/timestamp-to-event.js';
import { registerSearchRoutes } from './api/client/search.js';
import { SearchService } from './search/search-service.js';
import { registerAdminTimestampRoutes } from './api/admin/room-timestamp.js';
import { AdminEventService } from './admin/admin-event-service.js';
import { registerAdminEventRoutes } from './api/admin/events.js';
import { AdminReportService } from './admin/admin-report-service.js';
import { registerAdminReportRoutes } from './api/admin/reports.js';
import { registerAdminRoomActionRoutes } from './api/admin/room-actions.js';
import { registerServerNoticeRoutes } from './api/admin/server-notices.js';
import { buildRoomActions } from './admin/room-actions-build.js';
import { registerVoipRoutes } from './api/client/voip.js';
import { registerAppServicePingRoutes } from './api/client/appservice-ping.js';
import { buildAppServiceOut } from './appservice/appservice-out-build.js';
import { registerWhoisRoutes } from './api/client/whois.js';
import { registerRoomSummaryRoutes } from './api/client/room-summary.js';
import { RoomSummaryService } from './rooms/room-summary-service.js';
import { registerMutualRoomsRoutes } from './api/client/mutual-rooms.js';
import { MutualRoomsService } from './rooms/mutual-rooms.js';
import { registerOpenIdRoutes } from './api/client/openid.js';
import { OpenIdTokenService } from './auth/openid-tokens.js';
import { registerThirdPartyRoutes } from './api/client/thirdparty.js';
import { ThirdPartyService } from './thirdparty/thirdparty-service.js';
import { registerSupportRoutes } from './api/client/support.js';
import { registerThreepidRoutes } from './api/client/threepid.js';
import { registerSharedSecretRoutes } from './api/admin/register.js';
import type { AdminApiServices } from './api/admin/services.js';
import { registerAdminServerRoutes } from './api/admin/server.js';
import { registerAdminUserRoutes } from './api/admin/users.js';
import { AdminUserWriteService } from './admin/admin-user-write-service.js';
import { registerAdminUserWriteRoutes } from './api/admin/user-writes.js';
import { AccountModerationService } from './admin/account-moderation-service.js';
import { AccountModerationGate } from './auth/account-moderation-gate.js';
import { MessageRateLimit } from './auth/message-rate-limit.js';
import { registerAdminUserModerationRoutes } from './api/admin/user-moderation.js';
import { AdminRegistrationTokenService } from './admin/registration-token-service.js';
import { registerAdminRegistrationTokenRoutes } from './api/admin/registration-tokens.js';
import { AdminMediaService } from './admin/admin-media-service.js';
import { registerAdminMediaRoutes } from './api/admin/media.js';
import { registerAccountModerationRoutes } from './api/client/account-moderation.js';
// federation
import { buildFederationReceiving } from './federation/receiving-build.js';
import { registerFederationKeyRoutes } from './api/federation/keys.js';
import { registerFederationVersionRoute } from './api/federation/version.js';
import { registerFederationMembershipRoutes } from './api/federation/membership.js';
import { registerFederationEventRoutes } from './api/federation/events.js';
import { buildFederationHttp, type FederationHttp } from './federation/federation-http.js';
import { buildFederationSending } from './federation/sending-build.js';
import { FederationQueryClient } from './federation/query-client.js';
import { QueryServing } from './federation/query-serving.js';
import { registerFederationQueryRoutes } from './api/federation/queries.js';
import { registerFederationDirectoryRoutes } from './api/federation/directory.js';
import { FederationDirectoryClient } from './federation/directory-client.js';
import { DirectoryServing } from './federation/directory-serving.js';
import { RemoteTimestampLookup } from './federation/remote-timestamps.js';
import {
  listenFederation,
  wantsFederationListener,
  type FederationListener,
} from './http/federation-listener.js';

export interface Weft {
  app: FastifyInstance;
  config: Config;
  storage: Storage;
  keys: ServerKeys;
  /** The base URL the server listens at, once started. */
  url: string;
  /** The metrics listener's base URL (`<metricsUrl>/metrics`), when metrics.enabled. */
  metricsUrl?: string;
  /** The federation TLS listener's base URL (`https://…`), when federation.listener has a certificate. */
  federationUrl?: string;
  /** The client that speaks to other servers (resolution, TLS, X-Matrix signatures). */
  federation: FederationHttp;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
}

/** The SQLite database file (database.backend sqlite). */
export function databasePath(config: Config): string {
  return sqliteDatabasePath(config);
}

export function createLogger(config: Config): Logger {
  return pino(
    {
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
    },
    logDestination(config.log_format),
  );
}

/**
 * Sync and history over the room events' stream and the other streams'
 * providers; the notifier starts from the newest position in storage.
 */
function buildSync(
  storage: Storage,
  views: EventViews,
  filters: FilterService,
  notifier: Notifier,
  recent: RecentEvents,
  providers: readonly SyncStreamProvider[],
  hiddenSenders: HiddenSenders,
): SyncDeps {
  const ready = startPositions(storage, notifier, providers);
  const history = new RoomHistory(storage, visibilityCheckFor(storage), recent, hiddenSenders);
  const historyService = new HistoryService(storage, views, history, notifier);
  return {
    sync: new SyncService(storage, views, history, notifier, ready, providers),
    slidingSync: new SlidingSyncService(storage, views, history, notifier, ready, providers),
    history: historyService,
    legacy: new LegacySyncService(storage, views, history, historyService, notifier, ready),
    resolveFilter: (userId, param) => filters.resolve(userId, param),
    stopWaiting: () => notifier.close(),
  };
}

/** A committed batch, told to the notifier: the rooms', and for member events the users', long-polls wake. */
function announceCommitted(
  recent: RecentEvents,
  notifier: Notifier,
  records: readonly EventRecord[],
) {
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
}

/**
 * Typing, receipts, profiles, presence, the user directory and reports, their
 * /sync providers, and what runs in the background (presence timeouts,
 * member-event propagation of profile changes).
 */
function buildUserData(
  config: Config,
  storage: Storage,
  bus: ServerEventBus,
  rooms: RoomService,
  notifier: Notifier,
  accountData: AccountDataService,
  pushRules: PushRuleService,
  readPositions: ReadPositions,
  logger: Logger,
) {
  const typing = new TypingService(storage, notifier, bus);
  const receipts = new ReceiptService(storage, accountData, notifier, bus, readPositions);
  const presence = new PresenceService(storage, notifier, config.presence, (err) =>
    logger.error({ err }, 'presence: background update failed'),
  );
  const profiles = new ProfileService(storage, bus);
  const memberProfiles = new MemberProfiles(storage.profiles, config.server_name);
  const propagation = new MemberProfilePropagation(storage, rooms, memberProfiles, logger);
  const deps: UserDataDeps = {
    accountData,
    pushRules,
    typing,
    receipts,
    profiles,
    presence,
    userDirectory: new UserDirectoryService(
      storage.userDirectory,
      config.user_directory.search_all_users,
    ),
    reports: new ReportService(storage),
  };
  const providers: SyncStreamProvider[] = [
    new AccountDataSyncProvider(accountData, pushRules),
    new ReceiptSyncProvider(receipts),
    typing,
    new PresenceSyncProvider(presence),
  ];
  const start = async () => {
    await presence.start();
    await propagation.resume();
  };
  start().catch((err: unknown) => logger.error({ err }, 'presence or profile propagation start'));
  const close = () => {
    typing.close();
    presence.close();
  };
  return { deps, presence, propagation, memberProfiles, providers, close };
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

/**
 * Builds the server and its services without listening. This is the one
 * composition root: each service is built after what its constructor takes,
 * and what one area does when another's event happens is the `bus.on` block
 * below, in one place.
 */
export function buildWeft(config: Config, logger: Logger, storage: Storage) {
  const keys = loadOrCreateServerKeys(config.data_dir, config.server_name);
  // Federation's client: requests to other servers (federation.hosts, discovery, TLS, X-Matrix).
  const federation = buildFederationHttp(config.federation, config.server_name, keys.signingKey);
  // What our users ask of other servers: their users' keys and profiles (Server-Server queries).
  const federationQueries = new FederationQueryClient(federation);
  // Application services, from their registration files (a bad one stops the start).
  const appServices = loadRegistrations(config.app_service_config_files);
  const bus: ServerEventBus = new EventBus<ServerEvents>((err, name) =>
    logger.error({ err, event: name }, 'a listener of a server event failed'),
  );
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
    usernameAvailablePerIp: new RateLimiter(rl.username_available_per_ip, rl.enabled),
    getLoginTokenPerUser: new RateLimiter(rl.get_login_token_per_user, rl.enabled),
  };
  // Registration tokens: the config's and the Admin API's (stored, their uses counted).
  const registrationTokens = new RegistrationTokenService(
    config.registration,
    storage.registrationTokens,
  );
  const stageVerifiers = uiaStageVerifiers(
    storage,
    login,
    {
      passwordFailuresPerAccount: limits.loginFailuresPerAccount,
      registrationTokensPerIp: limits.registrationTokenValidityPerIp,
    },
    registrationTokens,
  );
  const rooms = new RoomService(config, storage, keys.signingKey, bus);
  // Wakes long-polls. Every stream besides room events is a provider of /sync (sync-streams.ts)
  // whose service tells the notifier of each committed change.
  const notifier = new Notifier();
  // Prometheus metrics (metrics.enabled); without them nothing is measured and no hook runs.
  const metrics = config.metrics.enabled
    ? new Metrics({
        longPollsWaiting: () => notifier.waitingCount,
        notifierWakeUps: () => notifier.wakeUpCount,
        // Read at a scrape, after the push services below exist.
        pushQueueLength: () => push.notifications.queuedEventCount,
        pushersRunning: () => push.pushers.runningCount,
      })
    : undefined;
  // One FilterService for the filter endpoints and /sync: it caches parsed filters.
  const filters = new FilterService(storage.filters);
  // Who each user ignores (cached here): left out of aggregations, history and notifications.
  const accountData = new AccountDataService(storage.accountData, notifier);
  // One PushRuleService: it serialises each user's edits. Each edit moves the accountData
  // stream before it is answered, so the client's next sync sends m.push_rules again.
  const pushRules = new PushRuleService(
    storage.pushRules,
    bus,
    async (userId) => {
      await accountData.put(userId, undefined, PUSH_RULES, {});
    },
    { legacyMentionRules: config.push.legacy_mention_rules },
  );
  const ignoredBy: HiddenSenders = (userId) => accountData.ignoredBy(userId);
  const views = new EventViews(storage, ignoredBy);
  const push = buildPush(config, storage, pushRules, ignoredBy, logger);
  // Read receipts move the unread counts before they are answered.
  const userData = buildUserData(
    config,
    storage,
    bus,
    rooms,
    notifier,
    accountData,
    pushRules,
    {
      markRead: (read) =>
        push.notifications.markRead(read.userId, read.roomId, read.streamOrdering, read.threadId),
    },
    logger,
  );
  // To-device messages to remote users go to their servers' queues (federation sending).
  const e2ee = buildE2ee(
    config.server_name,
    storage,
    notifier,
    { sendToDevice: (message) => federationOut.sending.sendToDevice(message) },
    {
      servers: federationQueries,
      onError: (err) => logger.warn({ err }, 'e2ee: dropping cached remote keys failed'),
    },
  );
  const recent = new RecentEvents();
  const syncProviders = [...userData.providers, ...e2ee.providers, push.syncProvider];
  const syncDeps = buildSync(storage, views, filters, notifier, recent, syncProviders, ignoredBy);
  const relations = new RelationService(
    storage,
    views,
    syncDeps.history,
    visibilityCheckFor(storage),
    notifier,
    ignoredBy,
  );
  // Homeserver → application services: transactions (fed below), ping, queries, third party.
  const appServiceOut = buildAppServiceOut(config, appServices, storage, logger, {
    notifier,
    sources: {
      typists: (roomId) => userData.deps.typing.typists(roomId),
      receiptChanges: (after, upTo) => userData.deps.receipts.changes(after, upTo),
      presenceOf: (userId) => userData.deps.presence.status(userId, userId),
    },
  });
  // An unknown alias in a service's namespace: the service is asked (it may create the room).
  const directory = new DirectoryService(config, storage, rooms, appServiceOut.queries);
  const memberProfiles = userData.memberProfiles;
  // Federation is built further down; createRoom reads this when it runs.
  const remoteInvites: { membership?: RemoteMembership } = {};
  const roomDeps: RoomDeps = {
    rooms,
    views,
    directory,
    // Rooms an admin blocked refuse every membership but leaves and bans.
    membership: new MembershipService(storage, rooms, directory, memberProfiles, async (roomId) =>
      Boolean(await storage.adminJobs.roomBlock(roomId)),
    ),
    state: new RoomStateService(storage, rooms, memberProfiles),
    creation: {
      // Remote invitees go through federation's /invite once it is built (useRemote below).
      create: (request) => createRoom(request, config, storage, rooms, remoteInvites.membership),
      upgrade: (request) => upgradeRoom(request, config, storage, rooms),
    },
  };
  // A deactivated user leaves every room (in the background; what a crash cut short resumes here).
  const deactivationLeaves = new DeactivationLeaves(storage, roomDeps.membership, logger);
  deactivationLeaves
    .resume()
    .catch((err: unknown) => logger.error({ err }, 'deactivation: resuming leaves failed'));
  // Room deletions and history purges: background jobs, those a crash cut short resumed here.
  const roomModeration = buildRoomModeration(
    config.server_name,
    storage,
    {
      membership: roomDeps.membership,
      createRoom: roomDeps.creation.create,
      send: (roomId, sender, draft) => rooms.send(roomId, sender, draft),
      forgetRoomInMemory: (roomId) => {
        rooms.forgetHead(roomId);
        recent.forget(roomId);
      },
    },
    logger,
  );
  roomModeration.runner
    .resume()
    .catch((err: unknown) => logger.error({ err }, 'admin jobs: resuming failed'));
  // A device deleted or renamed: others' long-polls hear of it here.
  const deviceListChanged = (userId: string) => e2ee.services.deviceLists.announce(userId);

  // Federation out: events and EDUs to other servers (per-destination queues, stored
  // before they are sent, resumed at start); `federationOut.edus` receives other servers' EDUs.
  const federationOut = buildFederationSending(
    {
      serverName: config.server_name,
      presenceEnabled: config.presence.enabled,
      retryInitialMs: config.federation.sending_retry_initial_ms,
      retryMaxMs: config.federation.sending_retry_max_ms,
      catchUpAfterPdus: config.federation.sending_catch_up_after_pdus,
    },
    storage,
    federation,
    {
      notifier,
      sources: {
        typists: (roomId) => userData.deps.typing.typists(roomId),
        receiptChanges: (after, upTo) => userData.deps.receipts.changes(after, upTo),
        presenceOf: (userId) => userData.deps.presence.status(userId, userId),
      },
      typing: userData.deps.typing,
      deviceLists: e2ee.services.deviceLists,
    },
    logger,
  );

  // What each area does when another's event happens.
  const { presence, propagation } = userData;
  bus.on('eventsCommitted', (records) => presence.eventsSent(records));
  bus.on('eventsCommitted', (records) => push.notifications.enqueue(records));
  bus.on('eventsCommitted', (records) => appServiceOut.pushers.eventsCommitted(records));
  bus.on('eventsCommitted', (records) => federationOut.sending.eventsCommitted(records));
  bus.on('eventsCommitted', (records) => announceCommitted(recent, notifier, records));
  // Membership moves which remote users' key changes we hear of: their cached keys go.
  bus.on('eventsCommitted', (records) => e2ee.services.remoteKeys?.eventsCommitted(records));
  bus.on('userActive', (userId) => presence.activity(userId));
  // A new name or avatar reaches the user's rooms and room-mates.
  bus.on('profileChanged', (userId) => {
    propagation.kick(userId);
    void presence.profileChanged(userId);
  });
  bus.on('pushRulesChanged', (userId) => push.notifications.rulesChanged(userId));
  if (metrics) bus.on('eventsCommitted', (records) => metrics.eventsCommitted(records));

  const accounts = new AccountService(config, storage, sessions, deviceListChanged, (userId) =>
    deactivationLeaves.kick(userId),
  );
  const devices = new DeviceService(storage, sessions, deviceListChanged);
  // Application services as clients: as_tokens, their users' registration, devices, room lists.
  const appServiceDeps = buildAppServiceClientDeps(
    config.server_name,
    appServices,
    storage,
    { sessions, accounts, devices, rooms, devicesChanged: deviceListChanged },
    logger,
  );
  const services: ClientApiServices = {
    config,
    roomDeps,
    syncDeps,
    relations,
    userData: userData.deps,
    e2ee: e2ee.services,
    accounts,
    login,
    sessions,
    uia: new UiaEngine(storage, config.uia.session_lifetime_ms, stageVerifiers),
    registrationTokens,
    devices,
    ...appServiceDeps,
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
    observeResponse: metrics?.observeRequest,
  });
  // Synapse's Admin API: server admins only, their flag read at every call.
  const adminApi: AdminApiServices = {
    admin: new AdminUserService(config.server_name, storage, services.devices),
    accounts: services.accounts,
    serverVersion: weftVersion(),
  };
  const router = new Router(app, sessions, (userId) => adminApi.admin.isServerAdmin(userId));
  // Account moderation: locks, suspensions, shadow bans, the message rate limit and its overrides.
  const messageRateLimit = new MessageRateLimit(
    new RateLimiter(rl.messages_per_user, rl.enabled),
    storage.moderation,
    rl.enabled,
  );
  const moderationGate = new AccountModerationGate(messageRateLimit);
  router.useGate((request) => moderationGate.check(request));
  router.useAppServices(appServiceDeps.appServices);
  const moderation = new AccountModerationService(config.server_name, storage, {
    sessions,
    messages: messageRateLimit,
  });
  registerAccountModerationRoutes(router, moderation);
  registerAdminUserModerationRoutes(router, moderation);
  registerDiscoveryRoutes(router, services);
  registerHealthRoute(router, () => storage.ping());
  registerLoginRoutes(router, services);
  registerRegistrationRoutes(router, services);
  registerAccountRoutes(router, services);
  registerDeviceRoutes(router, services);
  registerRoomRoutes(router, services);
  registerDirectoryRoutes(router, services);
  registerAppServiceDirectoryRoutes(router, services);
  registerAppServicePingRoutes(router, appServiceOut.ping);
  registerFilterRoutes(router, filters);
  registerPushRuleRoutes(router, pushRules);
  registerPusherRoutes(router, push.pushers);
  registerNotificationRoutes(router, push.notifications, views);
  registerSyncRoutes(router, services);
  registerSlidingSyncRoutes(router, services);
  registerKeyRoutes(router, services);
  registerToDeviceRoutes(router, services);
  registerRoomKeyRoutes(router, services);
  registerRelationRoutes(router, relations);
  const hierarchy = new HierarchyService(storage, config.server_name);
  registerHierarchyRoutes(router, hierarchy);
  registerLegacySyncRoutes(router, services);
  registerFallbackRoutes(router, services);
  registerAccountDataRoutes(router, userData.deps);
  registerEphemeralRoutes(router, userData.deps);
  registerProfileRoutes(router, userData.deps);
  registerPresenceRoutes(router, userData.deps);
  registerUserDirectoryRoutes(router, userData.deps);
  registerReportRoutes(router, userData.deps);
  const media = buildMediaService(config, storage, logger);
  registerMediaRoutes(router, media);
  registerUrlPreviewRoutes(router, buildUrlPreviewService(config.url_preview, media, logger));
  registerAdminMediaRoutes(
    router,
    new AdminMediaService(config.server_name, storage, media),
    config.server_name,
  );
  registerAdminServerRoutes(router, adminApi);
  registerAdminRoomRoutes(router, new AdminRoomService(config.server_name, storage));
  registerAdminRoomModerationRoutes(router, roomModeration.moderation, config.server_name);
  registerAdminAccountDataRoutes(router, new AdminAccountDataService(config.server_name, storage));
  const timestamps = new EventByTimestampService(storage);
  registerTimestampToEventRoutes(router, timestamps);
  // Its own RoomHistory: the same visibility check and ignore lists as /messages.
  const searchHistory = new RoomHistory(storage, visibilityCheckFor(storage), recent, ignoredBy);
  registerSearchRoutes(
    router,
    new SearchService(storage, views, searchHistory, syncDeps.history, notifier),
  );
  registerAdminTimestampRoutes(router, timestamps);
  const adminEvents = new AdminEventService(storage);
  registerAdminEventRoutes(router, adminEvents);
  registerAdminReportRoutes(router, new AdminReportService(storage, adminEvents));
  registerAdminRegistrationTokenRoutes(
    router,
    new AdminRegistrationTokenService(storage.registrationTokens),
  );
  const roomActions = buildRoomActions(
    config,
    storage,
    { ...roomDeps, history: syncDeps.history, accountData, createRoom: roomDeps.creation.create },
    logger,
  );
  registerAdminRoomActionRoutes(router, roomActions.actions);
  registerServerNoticeRoutes(router, roomActions.notices);
  registerVoipRoutes(router, config.voip);
  registerWhoisRoutes(router, adminApi.admin);
  // Room summaries, mutual rooms, OpenID, third-party networks (asked of the application
  // services), the support contacts, the 3PID refusals (docs/client-endpoints.md).
  registerRoomSummaryRoutes(router, new RoomSummaryService(storage));
  registerMutualRoomsRoutes(
    router,
    new MutualRoomsService(storage.mutualRooms, keys.loginTokenSecret),
  );
  const openid = new OpenIdTokenService(storage.openIdTokens, config.server_name, (err) =>
    logger.error({ err }, 'pruning expired OpenID tokens failed'),
  );
  registerOpenIdRoutes(router, openid);
  registerThirdPartyRoutes(router, new ThirdPartyService(() => [appServiceOut.thirdParty]));
  registerSupportRoutes(router, config.support);
  registerThreepidRoutes(router);
  registerSharedSecretRoutes(
    router,
    new SharedSecretRegistration(
      config.server_name,
      config.registration_shared_secret,
      services.accounts,
    ),
  );
  registerAdminUserRoutes(router, adminApi);
  registerAdminUserWriteRoutes(
    router,
    new AdminUserWriteService(config.server_name, storage, {
      accounts: services.accounts,
      devices: services.devices,
      profiles: userData.deps.profiles,
      sessions,
      admin: adminApi.admin,
      moderation,
    }),
  );
  // Federation in (src/federation/receiving-build.ts): keys and the notary, X-Matrix checks,
  // received transactions, events served to other servers, membership handshakes both ways.
  const federationIn = buildFederationReceiving({
    serverName: config.server_name,
    config: config.federation,
    keys,
    storage,
    sender: federation,
    rooms,
    bus,
    edus: federationOut.edus,
    logger,
  });
  router.useFederationAuth(federationIn.inboundAuth);
  registerFederationKeyRoutes(router, federationIn.keys);
  registerFederationVersionRoute(router, weftVersion());
  registerFederationEventRoutes(router, federationIn.transactions, federationIn.serving);
  registerFederationMembershipRoutes(router, federationIn.membershipServing, directory);
  roomDeps.membership.useRemote(federationIn.remoteMembership, config.server_name);
  syncDeps.history.useBackfill(federationIn.backfill);
  remoteInvites.membership = federationIn.remoteMembership;
  // The queries other servers make of our users, and remote users' profiles asked of theirs.
  registerFederationQueryRoutes(
    router,
    new QueryServing({
      serverName: config.server_name,
      keys: e2ee.services.keys,
      profiles: userData.deps.profiles,
      deviceLists: storage.deviceLists,
    }),
  );
  userData.deps.profiles.useRemote(config.server_name, federationQueries);
  // The directory queries (/publicRooms, /hierarchy, /timestamp_to_event), served and asked.
  const federationDirectory = new FederationDirectoryClient(federation, logger);
  directory.useRemote(federationDirectory);
  hierarchy.useRemote(federationDirectory);
  timestamps.useRemote(
    new RemoteTimestampLookup({
      serverName: config.server_name,
      storage,
      client: federationDirectory,
      checks: federationIn.checks,
      acl: federationIn.acl,
      logger,
    }),
  );
  registerFederationDirectoryRoutes(
    router,
    new DirectoryServing({
      serverName: config.server_name,
      publicRoomsOverFederation: config.federation.allow_public_rooms_over_federation,
      directory,
      networks: services.appServiceDirectory,
      hierarchy,
      timestamps,
      rooms: storage.rooms,
      acl: federationIn.acl,
    }),
  );
  router.finish();
  // Uploads get their body as a stream: their own scope, parser and router.
  withRawBodyRoutes(app, (scope) => {
    const uploadRouter = new Router(scope, sessions);
    uploadRouter.useGate((request) => moderationGate.check(request));
    uploadRouter.useAppServices(appServiceDeps.appServices);
    registerMediaUploadRoutes(uploadRouter, media);
    uploadRouter.finish();
  });

  const close = async () => {
    // Long-polls answer at once, or closing would wait for their timeouts.
    services.syncDeps.stopWaiting();
    userData.close();
    await closeHttpServer(app);
    openid.close();
    await roomModeration.runner.close();
    await deactivationLeaves.close();
    await media.close();
    await sessions.close();
    await appServiceOut.close();
    await federationOut.close();
    await push.close();
    // Connections' positions are saved just after their answers: those writes first.
    await services.syncDeps.slidingSync.flush();
    await storage.close();
    metrics?.close();
    federation.close();
  };
  return { app, storage, keys, services, metrics, federation, close };
}

export async function startWeft(config: Config, options: StartOptions = {}): Promise<Weft> {
  const logger = options.logger ?? createLogger(config);
  mkdirSync(config.data_dir, { recursive: true });
  const storage = await openStorage(config);
  let built;
  try {
    built = buildWeft(config, logger, storage);
  } catch (err) {
    await storage.close();
    throw err;
  }
  try {
    await built.app.listen({ host: config.bind, port: config.port });
  } catch (err) {
    await built.close();
    throw err;
  }
  // Metrics on a listener of their own, never the client port.
  let metricsListener: MetricsListener | undefined;
  try {
    metricsListener =
      built.metrics &&
      (await listenMetrics(built.metrics, config.metrics.bind, config.metrics.port, (err) =>
        logger.warn({ err }, 'metrics: a scrape failed'),
      ));
  } catch (err) {
    await built.close();
    throw err;
  }
  // The federation listener: the same routes over TLS on a port of its own (federation.listener).
  let federationListener: FederationListener | undefined;
  try {
    federationListener = wantsFederationListener(config.federation.listener)
      ? await listenFederation(built.app, config.federation.listener)
      : undefined;
  } catch (err) {
    await metricsListener?.close();
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
    metricsUrl: metricsListener?.url,
    federationUrl: federationListener?.url,
    federation: built.federation,
    close: async () => {
      await federationListener?.close();
      await metricsListener?.close();
      await built.close();
    },
  };
}
