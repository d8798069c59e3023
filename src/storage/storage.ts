import type { JsonObject, Pdu } from '../events/pdu.js';
import type { UserPushRules } from '../domain/push-rules.js';
import type { ReportKind, ReportListQuery, ReportRecord } from '../domain/reports.js';
import type {
  AccountDataRecord,
  BackupKeyRecord,
  CrossSigningKeyType,
  KeyWithId,
  PusherRecord,
  TokenOwner,
} from '../domain/records.js';
import type { EventRecord, StateIds } from '../events/records.js';
import type { IndexedRelation } from '../events/relation-types.js';
import type { SearchKey } from '../events/search-fields.js';
import type { ListedUser, UserListOrder, UserListQuery } from '../domain/user-list.js';
import type { ListedRoom, RoomListScope } from '../domain/room-list.js';
import type {
  ModerationFlags,
  PuppetToken,
  RateLimitOverride,
} from '../domain/account-moderation.js';
import type {
  AdminJob,
  AdminJobKind,
  AdminJobUpdate,
  HistoryPurgeScope,
  PurgeBatch,
  PurgedFromCaches,
  RoomBlock,
} from '../domain/admin-jobs.js';
import type { RegistrationTokenStore } from '../domain/registration-tokens.js';
import type { MediaAdminStore } from '../domain/media-admin.js';
import type { MutualRoomStore } from '../domain/mutual-rooms.js';
import type { OpenIdTokenStore } from '../domain/openid-tokens.js';
import type { AppServiceTransactionStore } from '../domain/appservice-transactions.js';
import type { SlidingSyncStore } from '../domain/sliding-sync-connections.js';
import type { FederationSendingStore } from '../domain/federation-sending.js';

// Storage's own records, defined with the rules that read them; every backend uses them.
export type {
  AccountDataRecord,
  BackupKeyRecord,
  CrossSigningKeyType,
  EventRecord,
  KeyWithId,
  PusherRecord,
  StateIds,
  TokenOwner,
};
export type { ListedUser, UserListOrder, UserListQuery };
export type { ModerationFlags, PuppetToken, RateLimitOverride };

/**
 * The storage interface every backend implements. It is async so that a
 * PostgreSQL backend can follow the embedded SQLite one; services only see this.
 * Operations that must be atomic (a user and its first session, a device and its
 * tokens) are single methods, so each backend can run them in one transaction.
 */

export interface UserRecord {
  userId: string;
  passwordHash: string | null;
  isGuest: boolean;
  isAdmin: boolean;
  deactivated: boolean;
  createdTs: number;
  locked: boolean;
  suspended: boolean;
  shadowBanned: boolean;
  /** Synapse's user types (`bot`, `support`, ...); null for a regular user. */
  userType: string | null;
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  displayName: string | null;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
  /** The User-Agent of the device's last request (for admins: whois and device lists). */
  lastSeenUserAgent: string | null;
}

/** A new device session: the device is created or kept, its earlier tokens revoked. */
export interface NewSession {
  userId: string;
  deviceId: string;
  /** Used only when the device is new. */
  initialDisplayName: string | null;
  tokenHash: string;
  ip: string | null;
  now: number;
}

export interface NewUser {
  userId: string;
  passwordHash: string | null;
  isGuest: boolean;
  isAdmin: boolean;
  now: number;
  /** The display name the user's profile starts with; absent: no profile. */
  displayName?: string;
}

export interface UiaSessionRecord {
  sessionId: string;
  /** The user the session authenticates for, or null before login (registration). */
  userId: string | null;
  /** The request the session is bound to, e.g. "POST /account/password". */
  operation: string;
  /** The flows offered when the session started; stages must follow one of them. */
  flows: string[][];
  completed: string[];
  expiresTs: number;
}

export interface LastSeen {
  userId: string;
  deviceId: string;
  ts: number;
  ip: string;
  userAgent: string | null;
}

export interface Storage {
  rooms: RoomStore;
  directory: DirectoryStore;
  users: UserStore;
  profiles: ProfileStore;
  devices: DeviceStore;
  tokens: TokenStore;
  loginTokens: LoginTokenStore;
  uia: UiaStore;
  filters: FilterStore;
  pushRules: PushRuleStore;
  media: MediaStore;
  e2eeKeys: E2eeKeyStore;
  deviceLists: DeviceListStore;
  toDevice: ToDeviceStore;
  keyBackup: KeyBackupStore;
  accountData: AccountDataStore;
  receipts: ReceiptStore;
  presence: PresenceStore;
  userDirectory: UserDirectoryStore;
  reports: ReportStore;
  relations: RelationStore;
  notifications: NotificationStore;
  pushers: PusherStore;
  moderation: AccountModerationStore;
  /** Rooms' forward extremities, as the Admin API shows and prunes them. */
  extremities: ForwardExtremityStore;
  /** Registration tokens made through the Admin API (config tokens are not stored). */
  registrationTokens: RegistrationTokenStore;
  /** The Admin API's media reads and bulk changes (MediaStore serves the media repository). */
  mediaAdmin: MediaAdminStore;
  adminJobs: AdminJobStore;
  /** The rooms two users share (GET /v1/mutual_rooms). */
  mutualRooms: MutualRoomStore;
  /** OpenID tokens for integration servers, hashed, with their expiry. */
  openIdTokens: OpenIdTokenStore;
  /** Per application service: delivered up to where, the transaction in flight. */
  appServiceTransactions: AppServiceTransactionStore;
  /** Rooms application services publish under their third-party networks. */
  appServiceRoomList: AppServiceRoomListStore;
  appServiceDevices: AppServiceDeviceStore;
  /** The full-text index of room events, written with the events (RoomStore.persistEvents). */
  search: SearchStore;
  /** Simplified sliding sync's connection positions (MSC4186). */
  slidingSync: SlidingSyncStore;
  /** Federation keys: other servers' verify keys, with the signed responses they came in. */
  serverKeys: ServerKeyStore;
  /** Per destination server: the queued PDUs and durable EDUs, stream marks, backoff. */
  federationSending: FederationSendingStore;
  /** A trivial query: resolves if the database answers, rejects if not (GET /health). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

// --- federation keys ---
/** One verify key of another server, as a key response (`/_matrix/key/v2/server`) gave it. */
export interface ServerKeyRecord {
  serverName: string;
  /** e.g. `ed25519:abc123` */
  keyId: string;
  /** Unpadded base64. */
  publicKey: string;
  /** The response's own `valid_until_ts` (federation/key-rules.ts caps it when judging). */
  validUntilTs: number;
  /** Set for a key the response listed in `old_verify_keys`: when it stopped being used. */
  expiredTs: number | null;
  /** When we received the response. */
  fetchedTs: number;
  /** The whole signed response, as received: what a notary serves again. */
  response: JsonObject;
}

export interface ServerKeyStore {
  /**
   * Stores the keys of one or more responses in one transaction. A key already
   * stored is replaced only by a response at least as recent (a `validUntilTs`
   * not smaller): a notary's stale copy does not undo a key's expiry.
   */
  storeKeys(records: ServerKeyRecord[]): Promise<void>;
  /** The server's stored keys: those named, or all of them when `keyIds` is absent. */
  keysOf(serverName: string, keyIds?: readonly string[]): Promise<ServerKeyRecord[]>;
}

/**
 * The Admin API's background jobs (room deletion, history purges), blocked rooms,
 * and the purges' deletions (admin/admin-jobs.ts runs them).
 */
export interface AdminJobStore {
  insertJob(job: AdminJob): Promise<void>;
  updateJob(id: string, update: AdminJobUpdate, now: number): Promise<void>;
  getJob(id: string): Promise<AdminJob | undefined>;
  /** The room's jobs of a kind, oldest first. */
  jobsOfRoom(roomId: string, kind: AdminJobKind): Promise<AdminJob[]>;
  /** Scheduled or active jobs, oldest first (resumed at start). */
  unfinishedJobs(): Promise<AdminJob[]>;
  setRoomBlock(roomId: string, userId: string | null, now: number): Promise<void>;
  clearRoomBlock(roomId: string): Promise<void>;
  roomBlock(roomId: string): Promise<RoomBlock | undefined>;
  /**
   * Deletes up to `limit` of the room's events with their per-event rows; once
   * none is left, every row keyed by the room (state, aliases, directory,
   * receipts, notifications, the room itself), in one transaction per call.
   */
  purgeRoomBatch(roomId: string, limit: number): Promise<PurgeBatch>;
  /**
   * Deletes up to `scope.limit` of the room's non-state events before the
   * position, never a forward extremity, with their per-event rows.
   */
  purgeHistoryBatch(scope: HistoryPurgeScope): Promise<PurgeBatch>;
}

/** Locks, suspensions, shadow bans, rate limit overrides and puppet tokens (the Admin API). */
export interface AccountModerationStore {
  /** Sets the flags given, leaving the others; false if there is no such user. */
  setFlags(userId: string, flags: Partial<ModerationFlags>): Promise<boolean>;
  /** Synapse's user type (`bot`, `support`, ...; null: a regular user); false if there is no such user. */
  setUserType(userId: string, userType: string | null): Promise<boolean>;
  getRateLimitOverride(userId: string): Promise<RateLimitOverride | undefined>;
  setRateLimitOverride(userId: string, override: RateLimitOverride): Promise<void>;
  deleteRateLimitOverride(userId: string): Promise<void>;
  /** Stores a token on a device ID no devices row has. */
  createPuppetToken(token: PuppetToken): Promise<void>;
}

export interface UserStore {
  /** Creates the user, and its first session when given, atomically. False if the ID is taken. */
  createUser(user: NewUser, session?: NewSession): Promise<boolean>;
  getUser(userId: string): Promise<UserRecord | undefined>;
  /** A fresh number for a guest's localpart. */
  nextGuestNumber(): Promise<number>;
  setPasswordHash(userId: string, passwordHash: string): Promise<void>;
  /** Turns a guest into a full account, keeping its user ID. */
  upgradeGuest(userId: string, passwordHash: string | null): Promise<void>;
  /**
   * Marks the user deactivated, removes every device and token and, in the same
   * transaction, queues the leaving of their rooms; returns revoked token hashes.
   */
  deactivate(userId: string): Promise<string[]>;
  /** Deactivated users whose rooms are still to be left (joins, invites, knocks). */
  pendingDeactivationLeaves(): Promise<string[]>;
  /** Every room of the deactivated user was left: unqueued. */
  finishDeactivationLeaves(userId: string): Promise<void>;
  /** A page of the users matching the query, and how many match in all (Admin API). */
  listUsers(query: UserListQuery): Promise<{ users: ListedUser[]; total: number }>;
  /** Sets or clears the server admin flag; false if there is no such user. */
  setAdmin(userId: string, isAdmin: boolean): Promise<boolean>;
  /** Clears the deactivated flag (Admin API); rooms already left stay left. False if there is no such user. */
  reactivate(userId: string): Promise<boolean>;
}

/** A user's global profile; absent fields are unset. */
export interface Profile {
  displayName?: string;
  avatarUrl?: string;
}

export interface ProfileStore {
  /** Undefined when the user has no profile. */
  getProfile(userId: string): Promise<Profile | undefined>;
  /** Replaces the user's profile (creating it if need be). */
  setProfile(userId: string, profile: Profile): Promise<void>;
  /** Every field of the profile (`displayname`, `avatar_url`, `m.tz`, custom keys); undefined: no profile. */
  getFields(userId: string): Promise<Record<string, unknown> | undefined>;
  /**
   * Replaces every field of the profile; with `propagate`, in the same transaction,
   * queues the update of the user's member events (a new generation of it).
   */
  setFields(userId: string, fields: Record<string, unknown>, propagate: boolean): Promise<void>;
  /** Users whose member events are still to be updated, with the generation queued. */
  pendingPropagations(): Promise<{ userId: string; generation: number }[]>;
  /** Done with that generation: cleared unless a newer change queued another. */
  finishPropagation(userId: string, generation: number): Promise<void>;
}

export interface DeviceStore {
  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(userId: string): Promise<DeviceRecord[]>;
  /**
   * False for an unknown device. A new name is a device list change too (recorded in
   * the same transaction): the user's room-mates' clients and servers hear of it.
   */
  setDisplayName(userId: string, deviceId: string, displayName: string | null): Promise<boolean>;
  /** Deletes the devices and their tokens; returns the revoked token hashes. */
  deleteDevices(userId: string, deviceIds: string[]): Promise<string[]>;
  /** Deletes every device of the user but the one named; returns the revoked token hashes. */
  deleteOtherDevices(userId: string, keepDeviceId: string | null): Promise<string[]>;
  recordLastSeen(entries: LastSeen[]): Promise<void>;
}

export interface TokenStore {
  /** Creates or keeps the device and issues a token for it; returns the revoked token hashes. */
  createSession(session: NewSession): Promise<string[]>;
  lookup(tokenHash: string): Promise<TokenOwner | undefined>;
}

/** Sync filters uploaded by users (POST /user/{userId}/filter); a filter never changes once stored. */
export interface FilterStore {
  /** Stores the filter's JSON text and returns its ID (the same text again: the same ID). */
  add(userId: string, filterJson: string): Promise<number>;
  get(userId: string, filterId: number): Promise<string | undefined>;
}

/** Each user's push rules: their own rules and their changes to the server defaults. */
export interface PushRuleStore {
  /** Undefined for a user who never changed their push rules. */
  get(userId: string): Promise<UserPushRules | undefined>;
  /** Replaces the user's push rules in one transaction. */
  put(userId: string, rules: UserPushRules): Promise<void>;
}

export interface LoginTokenStore {
  add(nonce: string, userId: string, expiresTs: number): Promise<void>;
  /** Removes the token and returns its user if it existed and had not expired. */
  consume(nonce: string, now: number): Promise<string | undefined>;
}

export interface UiaStore {
  create(session: UiaSessionRecord): Promise<void>;
  get(sessionId: string, now: number): Promise<UiaSessionRecord | undefined>;
  setCompleted(sessionId: string, completed: string[]): Promise<void>;
  delete(sessionId: string): Promise<void>;
  purgeExpired(now: number): Promise<void>;
}

export interface RoomRecord {
  roomId: string;
  version: string;
  creator: string;
}

export interface NewRoomEvent {
  eventId: string;
  roomId: string;
  pdu: Pdu;
  /** Its `m.relates_to` as the relation index stores it (events/relations.ts indexedRelationOf). */
  relation?: IndexedRelation;
  /** Set when the event came with a client transaction ID, for idempotent retries. */
  transaction?: { userId: string; deviceId: string; endpoint: string; txnId: string };
  // --- federated events: events not built on the room's head. Local events leave these out. ---
  /**
   * The full state before the event (received events). Its state group (the
   * state after it) is a delta over the group of one of its prev_events when
   * that group holds no entry the state lacks, the delta is small and the chain
   * short; else a snapshot; a message whose state equals a prev's reuses its group.
   * With it, `currentState` absent means the room's current state stays as it is.
   */
  stateBefore?: StateIds;
  /** The room's current state after this event, as resolution decided it (whole, not a delta). */
  currentState?: StateIds;
  /** The forward extremities to drop and add, instead of "prev_events out, this event in". */
  extremities?: { remove: string[]; add: string[] };
  /**
   * Stored with its state (needs `stateBefore`) but off the event stream:
   * never a timeline, sync, search, relation or push event, never an
   * extremity or current state; found by ID (getEvents, heldEvents).
   */
  softFailed?: boolean;
  /**
   * Known without its state (auth chains, state fetched for a gap, an invite
   * to a room we are not in): stored by ID only, off the event stream. An
   * event already held is left as it is; a later copy without `outlier`
   * moves the event into the stream ("de-outliers" it).
   */
  outlier?: boolean;
  /**
   * Rejected by the auth rules: kept off the stream with the reason, so a
   * repeat arrival is answered at once; never served (not by getEvents, only
   * by heldEvents). With `stateBefore`, the state after it is the state before
   * it (the spec: rejected events do not change the state); else an outlier.
   */
  rejectedReason?: string;
  /**
   * A historic event fetched by backfill (a client paging back past what the
   * room holds): stored with its state (needs `stateBefore`) in the events
   * table at this position, one reserveBackfillPositions gave, so it reads
   * before every event the room held; never an extremity, current state, a
   * membership change or an end to "forgotten", and no one is told of it.
   */
  backfillPosition?: number;
}

// --- federated events ---
/** An event this server holds, in the stream or off it, as federation reads it. */
export interface HeldEvent extends EventRecord {
  /** Held without its state (no state before or after it is known); streamOrdering 0. */
  outlier: boolean;
  /** Held with its state but off the stream; streamOrdering 0. */
  softFailed: boolean;
  /** Why it was rejected (off the stream; streamOrdering 0); absent for accepted events. */
  rejectedReason?: string;
}

export interface RoomStore {
  /** Records a new room; its events follow through persistEvent. */
  createRoom(room: RoomRecord, now: number): Promise<void>;
  getRoom(roomId: string): Promise<RoomRecord | undefined>;
  /**
   * An event by ID: stream events and (federation) outliers and soft-failed
   * events, the last two at streamOrdering 0; never a rejected one.
   */
  getEvent(eventId: string): Promise<EventRecord | undefined>;
  /** getEvent for several, in the order asked, the unknown left out. */
  getEvents(eventIds: string[]): Promise<EventRecord[]>;
  /** The room's current state as event IDs. */
  currentStateIds(roomId: string): Promise<StateIds>;
  /** Only the given (type, state_key) pairs of the current state: what an event's auth needs. */
  currentStateIdsFor(
    roomId: string,
    pairs: { type: string; stateKey: string }[],
  ): Promise<StateIds>;
  /** The state after the given event, as event IDs (undefined for outliers and unknown events). */
  stateIdsAfter(eventId: string): Promise<StateIds | undefined>;
  /** The current forward extremities of the room, with their depths. */
  forwardExtremities(roomId: string): Promise<{ eventId: string; depth: number }[]>;
  /**
   * Appends an event the caller has built on the room's current extremities and
   * state: it becomes the only extremity, and a state event updates the state.
   * Atomic, and durable before it resolves.
   */
  persistEvent(event: NewRoomEvent): Promise<EventRecord>;
  /** persistEvent for several events, in order, in one transaction (group commit): all or none. */
  persistEvents(events: NewRoomEvent[]): Promise<EventRecord[]>;
  /** The event a client transaction produced before, if any. */
  transactionEvent(
    userId: string,
    deviceId: string,
    endpoint: string,
    txnId: string,
  ): Promise<string | undefined>;
  /** Marks a room forgotten by a user (POST /forget). */
  forgetRoom(userId: string, roomId: string): Promise<void>;
  /** Rooms in which the user's current membership is the given one. */
  roomsWithMembership(userId: string, membership: string): Promise<string[]>;
  /**
   * The room's event nearest to a time (its origin_server_ts) in one direction:
   * `f` the first at or after it, `b` the last at or before it; ties by stream
   * order. From an index (`timestamp_to_event`), never a scan of the room.
   */
  eventNearTimestamp(
    roomId: string,
    ts: number,
    direction: 'f' | 'b',
  ): Promise<{ eventId: string; originServerTs: number } | undefined>;
  /** How many invites the user has sent at or after a time (origin_server_ts), from an index. */
  invitesSentSince(userId: string, fromTs: number): Promise<number>;
  /** In how many rooms the user has joined at or after a time, whatever their membership now. */
  roomsJoinedSince(userId: string, fromTs: number): Promise<number>;

  // Reads by stream position, for sync and history.
  /** The newest position of the event stream (0 when there are no events). */
  maxStreamOrdering(): Promise<number>;
  /** A room's events with positions in (after, upTo], at most `limit`, in the order asked. */
  roomEvents(query: RoomEventsQuery): Promise<EventRecord[]>;
  /** The room's state after its last event at or before `position` (empty before the room). */
  stateIdsAt(roomId: string, position: number): Promise<StateIds>;
  /** Every membership event about the user up to a position, oldest first. */
  membershipEventsOf(userId: string, upTo: number): Promise<MembershipEvent[]>;
  /** Joined and invited members in the current state. */
  memberCounts(roomId: string): Promise<{ joined: number; invited: number }>;
  /**
   * Up to `limit` joined or invited members of the room, by user ID (the sync
   * summary's heroes); with `former`, members who left or were banned instead.
   */
  someMembers(roomId: string, limit: number, options?: { former?: boolean }): Promise<string[]>;
  /** Rooms the user has forgotten. */
  forgottenRooms(userId: string): Promise<string[]>;
  /**
   * Every room (or the one the scope names) with its counts and listed state
   * (the Admin API's room list), in a few queries whatever the number of rooms; unordered.
   */
  listRooms(scope: RoomListScope): Promise<ListedRoom[]>;
  /** Purged events (and the room's members' memberships) leave this process's caches. */
  forgetPurged(roomId: string, purged: PurgedFromCaches): void;

  // --- federated events ---
  /**
   * The events held among these IDs, in the order asked: stream events,
   * outliers, soft-failed and rejected ones (getEvents leaves the rejected out).
   */
  heldEvents(eventIds: string[]): Promise<HeldEvent[]>;
  /** Which of these IDs are held in any form (outliers and rejected ones included). */
  eventsExist(eventIds: string[]): Promise<Set<string>>;
  /** Why a held event was rejected; undefined when it was not (or is unknown). */
  rejectedReason(eventId: string): Promise<string | undefined>;
  /**
   * The state before an event held with its state (stream, soft-failed or
   * rejected); undefined for outliers and unknown events. stateIdsAfter
   * answers for the same events (a rejected event's is the state before it).
   */
  stateIdsBefore(eventId: string): Promise<StateIds | undefined>;
  /** Which of these events a received event held with its state names as a prev_event. */
  referencedEvents(eventIds: string[]): Promise<Set<string>>;
  /** Whether a user of `serverName` is joined to the room in its current state. */
  hasJoinedMember(roomId: string, serverName: string): Promise<boolean>;
  /**
   * `count` positions for backfilled events (NewRoomEvent.backfillPosition),
   * highest first, each below every position held: the event stream counts up
   * from 1, backfill counts down from -1, so each batch reads before the last.
   */
  reserveBackfillPositions(count: number): Promise<number[]>;
}

export interface RoomEventsQuery {
  roomId: string;
  /** Exclusive lower bound of the stream positions. */
  after: number;
  /** Inclusive upper bound. */
  upTo: number;
  limit: number;
  order: 'newest-first' | 'oldest-first';
}

/** A membership event about a user, as the event stream saw it. */
export interface MembershipEvent {
  roomId: string;
  eventId: string;
  membership: string;
  streamOrdering: number;
}

export interface AliasRecord {
  alias: string;
  roomId: string;
  /** Who created the mapping: one of those who may delete it. */
  creator: string;
}

/**
 * A published room and the tokens that go on from its place in the
 * directory's stable order (the edges of a /publicRooms page).
 */
export interface PublishedRoom {
  roomId: string;
  /** Goes on after this room, towards rooms published later (a page's next_batch). */
  laterToken: string;
  /** Goes on before this room, towards rooms published earlier (a page's prev_batch). */
  earlierToken: string;
}

/** Published rooms beyond a place in the directory's order, nearest first. */
export interface PublishedRoomsScan {
  /** Forward from the start, unless the token said backward. */
  direction: 'forward' | 'backward';
  rooms: PublishedRoom[];
}

export interface PublishedRoomsQuery {
  /** A token of a PublishedRoom: the place (exclusive) and the direction; absent: the start. */
  since?: string;
  limit: number;
}

/** Devices application services make for their users (PUT /devices/{deviceId}, MSC4190). */
export interface AppServiceDeviceStore {
  /** Makes the device, with no token (the service acts as it with ?device_id=); false if it existed. */
  createDevice(
    userId: string,
    deviceId: string,
    displayName: string | null,
    now: number,
  ): Promise<boolean>;
}

/** An application service's third-party network: Synapse's `{service id}|{network id}` instance. */
export interface NetworkKey {
  serviceId: string;
  networkId: string;
}

/** Which rooms a scan reads: one network's, or every list (the server's own and each network's). */
export type NetworkListScope = { network: NetworkKey } | 'all';

/** The rooms services publish under their networks (PUT /directory/list/appservice/...). */
export interface AppServiceRoomListStore {
  /** Publishes the room under the network; publishing again keeps its place in the order. */
  publish(network: NetworkKey, roomId: string, now: number): Promise<void>;
  unpublish(network: NetworkKey, roomId: string): Promise<void>;
  /**
   * As DirectoryStore.scanPublished, over the scope's rooms (a room in several
   * lists once, at its earliest publication), with the same tokens.
   */
  scan(
    scope: NetworkListScope,
    query: PublishedRoomsQuery,
  ): Promise<PublishedRoomsScan | undefined>;
  count(scope: NetworkListScope): Promise<number>;
}

/** Room aliases (local ones only, for now) and the published room directory. */
export interface DirectoryStore {
  /** Maps the alias to the room; false if the alias is taken. */
  createAlias(alias: AliasRecord, now: number): Promise<boolean>;
  getAlias(alias: string): Promise<AliasRecord | undefined>;
  /** False if there was no such alias. */
  deleteAlias(alias: string): Promise<boolean>;
  aliasesOfRoom(roomId: string): Promise<string[]>;
  /** Points every alias of one room at another, atomically; returns the aliases moved. */
  moveAliases(fromRoomId: string, toRoomId: string): Promise<string[]>;
  /** Publishes or unpublishes the room; publishing again keeps its place in the order. */
  setPublished(roomId: string, published: boolean, now: number): Promise<void>;
  isPublished(roomId: string): Promise<boolean>;
  /**
   * Up to `limit` published rooms beyond `since`, nearest first (the caller
   * filters and pages); undefined when `since` is not a token this store issued.
   */
  scanPublished(query: PublishedRoomsQuery): Promise<PublishedRoomsScan | undefined>;
  /** How many rooms are published (before any filter). */
  countPublished(): Promise<number>;
  /** Joined members per room, from the current state. */
  joinedMemberCount(roomId: string): Promise<number>;
}

/** A media ID's row: pending (created, no content yet) or uploaded. */
export interface MediaRecord {
  mediaId: string;
  /** Who created the ID or uploaded the content. */
  userId: string;
  createdTs: number;
  /** Pending IDs only: when the ID lapses unused. */
  unusedExpiresTs: number | null;
  /** Null while the content has not been uploaded. */
  upload: MediaUpload | null;
  /** Served only by the authenticated endpoints (uploaded after the legacy freeze). */
  authenticated: boolean;
  quarantined: boolean;
}

export interface MediaUpload {
  uploadTs: number;
  contentType: string;
  fileName: string | null;
  size: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
}

export interface MediaStore {
  /** Records a new media ID (pending when `upload` is null); false if the ID exists. */
  create(record: MediaRecord): Promise<boolean>;
  get(mediaId: string): Promise<MediaRecord | undefined>;
  /** Fills a pending ID; false if it is unknown or already has content. */
  completeUpload(mediaId: string, upload: MediaUpload): Promise<boolean>;
  /** The user's pending IDs that have not lapsed at `now`. */
  countPending(userId: string, now: number): Promise<number>;
  /** Deletes the user's pending IDs that lapsed before `before`; returns how many. */
  deleteLapsed(userId: string, before: number): Promise<number>;
  /** False if there was no such media. */
  setQuarantined(mediaId: string, quarantined: boolean): Promise<boolean>;
  /** False if there was no such media. */
  delete(mediaId: string): Promise<boolean>;
}

export interface AccountDataStore {
  get(
    userId: string,
    roomId: string | undefined,
    type: string,
  ): Promise<AccountDataRecord | undefined>;
  /** Stores the content (replacing any) and returns the change's stream position. */
  put(
    userId: string,
    roomId: string | undefined,
    type: string,
    content: Record<string, unknown>,
  ): Promise<number>;
  /** The user's account data changed in (after, upTo], global and per room. */
  changes(userId: string, after: number, upTo: number): Promise<AccountDataRecord[]>;
  /** All of the user's account data in these rooms (pass [] for none), and the global when asked. */
  whole(userId: string, roomIds: readonly string[], global: boolean): Promise<AccountDataRecord[]>;
  /** The newest position of the stream (0 when empty). */
  maxStreamId(): Promise<number>;
}

export interface ReceiptRecord {
  roomId: string;
  receiptType: string;
  userId: string;
  /** Absent: an unthreaded receipt. */
  threadId?: string;
  eventId: string;
  ts: number;
  streamId: number;
}

export interface NewReceipt extends Omit<ReceiptRecord, 'streamId'> {
  /** The receipted event's stream position: a receipt for an earlier event than the stored one is ignored. */
  eventPosition: number;
}

export interface ReceiptStore {
  /** Stores the receipt and returns its stream position; undefined when it was ignored as older. */
  put(receipt: NewReceipt): Promise<number | undefined>;
  /** Receipts of every room changed in (after, upTo]. */
  changes(after: number, upTo: number): Promise<ReceiptRecord[]>;
  /** Every receipt of these rooms (a fresh sync section). */
  ofRooms(roomIds: readonly string[]): Promise<ReceiptRecord[]>;
  maxStreamId(): Promise<number>;
}

export interface PresenceRecord {
  userId: string;
  state: string;
  statusMsg?: string;
  lastActiveTs: number;
  streamId: number;
}

export interface PresenceStore {
  get(userId: string): Promise<PresenceRecord | undefined>;
  /** Stores the user's presence and returns the change's stream position. */
  put(record: Omit<PresenceRecord, 'streamId'>): Promise<number>;
  /** Presence changed in (after, upTo] of the user and of those sharing a joined room with them. */
  changesAmongRoomMates(userId: string, after: number, upTo: number): Promise<PresenceRecord[]>;
  /** Users whose stored presence is not offline (at start: they go offline unless seen). */
  notOffline(): Promise<PresenceRecord[]>;
  /** Whether two users are joined to a common room. */
  shareARoom(userId: string, otherUserId: string): Promise<boolean>;
  maxStreamId(): Promise<number>;
}

export interface DirectoryUser {
  userId: string;
  displayName?: string;
  avatarUrl?: string;
}

export interface UserDirectoryQuery {
  searcher: string;
  /** Lower-cased words; a user matches when every word is in their user ID or display name. */
  words: string[];
  limit: number;
  /** Every active user, not only those sharing a room or in public rooms. */
  searchAllUsers: boolean;
}

export interface UserDirectoryStore {
  /** Up to `limit` matching users, from current memberships and profiles. */
  search(query: UserDirectoryQuery): Promise<DirectoryUser[]>;
}

export interface NewReport {
  reporter: string;
  roomId?: string;
  eventId?: string;
  userId?: string;
  reason?: string;
  receivedTs: number;
}

/** A forward extremity with what Synapse's Admin API shows of it. */
export interface ForwardExtremityRecord {
  eventId: string;
  stateGroup: number;
  depth: number;
  streamOrdering: number;
}

/** Rooms' forward extremities for the Admin API (RoomStore keeps them as events are stored). */
export interface ForwardExtremityStore {
  /** The room's extremities, newest (by stream order) first. */
  list(roomId: string): Promise<ForwardExtremityRecord[]>;
  /** Deletes every extremity of the room but the newest; answers how many went. */
  deleteAllButNewest(roomId: string): Promise<number>;
}

/** Content reports, kept for the server's admins. */
export interface ReportStore {
  add(report: NewReport): Promise<void>;
  /** A page of reports of the kind, and how many match the filters in all. */
  list(query: ReportListQuery): Promise<{ reports: ReportRecord[]; total: number }>;
  get(kind: ReportKind, id: number): Promise<ReportRecord | undefined>;
  /** Whether a report of that kind and ID existed (and is now gone). */
  delete(kind: ReportKind, id: number): Promise<boolean>;
}

// End-to-end encryption (src/e2ee/): the server stores and routes opaque key material.

/** A key as stored: its JSON exactly as uploaded (canonical), signatures added later kept apart. */
export interface StoredDeviceKeys {
  userId: string;
  deviceId: string;
  keyJson: string;
  displayName: string | null;
}

/** What one /keys/upload stores for a device, atomically. */
export interface DeviceKeyUpload {
  userId: string;
  deviceId: string;
  /** New or changed device keys (canonical JSON); undefined: unchanged. */
  deviceKeysJson?: string;
  oneTimeKeys: KeyWithId[];
  /** Replace the fallback key of each algorithm present. */
  fallbackKeys: KeyWithId[];
}

export type DeviceKeyUploadResult =
  | { ok: true; deviceListPosition?: number }
  /** A one-time key ID that is stored with other content: nothing was stored. */
  | { ok: false; conflictingKeyId: string };

export interface KeyClaim {
  userId: string;
  deviceId: string;
  algorithm: string;
}

export interface ClaimedKey extends KeyClaim {
  keyId: string;
  keyJson: string;
}

/** A signature uploaded on someone's device key or cross-signing key. */
export interface StoredSignature {
  targetUserId: string;
  /** A device ID or a cross-signing public key (unpadded base64). */
  targetKeyId: string;
  signerUserId: string;
  signingKeyId: string;
  signature: string;
}

export interface E2eeKeyStore {
  /** Device keys of the user's existing devices (all when deviceIds is empty). */
  deviceKeys(userId: string, deviceIds: string[]): Promise<StoredDeviceKeys[]>;
  /**
   * Stores a device's uploaded keys in one transaction: all or nothing. A
   * changed device key also records a device list change (its position is returned).
   */
  uploadKeys(upload: DeviceKeyUpload): Promise<DeviceKeyUploadResult>;
  /** Unclaimed one-time keys per algorithm. */
  oneTimeKeyCounts(userId: string, deviceId: string): Promise<Record<string, number>>;
  /** Algorithms whose fallback key has not been claimed yet. */
  unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]>;
  /**
   * For each claim, the device's oldest one-time key of the algorithm, removed
   * so no one else gets it; else its fallback key (marked used, kept). Atomic.
   */
  claimKeys(claims: KeyClaim[]): Promise<ClaimedKey[]>;
  crossSigningKeys(userId: string): Promise<Partial<Record<CrossSigningKeyType, string>>>;
  /** Replaces the given cross-signing keys; records a device list change, returns its position. */
  setCrossSigningKeys(
    userId: string,
    keys: Partial<Record<CrossSigningKeyType, string>>,
  ): Promise<number>;
  /** Signatures on the user's keys (device IDs or cross-signing public keys). */
  signaturesOn(targetUserId: string): Promise<StoredSignature[]>;
  /** Stores signatures; records a device list change for each target user, returns the last position. */
  addSignatures(signatures: StoredSignature[]): Promise<number | undefined>;
}

/** A membership change in a room, for device list tracking. */
export interface MemberChange {
  roomId: string;
  userId: string;
  membership: string;
  streamOrdering: number;
}

/** One change of the deviceLists stream. */
export interface DeviceListChangeRecord {
  position: number;
  userId: string;
  /**
   * The device added, updated (keys, signatures, display name) or deleted.
   * Absent: the user's cross-signing keys changed; for another server's user,
   * whatever their server told of; or a change recorded before devices were.
   */
  deviceId?: string;
}

/**
 * The federation sender's chain of a user's m.device_list_update EDUs to one
 * server: the stream_id of the last one queued for it, which the next names
 * as its `prev_id`.
 */
export interface DeviceListOutboundHead {
  userId: string;
  destination: string;
  streamId: number;
}

export interface DeviceListStore {
  /** The newest position of the deviceLists stream (0 when nothing changed yet). */
  maxPosition(): Promise<number>;
  /**
   * Records that the user's device changed (or, without one, their list or
   * cross-signing keys: another server's user, told by their server's EDU); returns the position.
   */
  recordChange(userId: string, deviceId?: string): Promise<number>;
  /** The newest change of the user's device list, if any. */
  latestChangeOf(userId: string): Promise<number | undefined>;
  /** The newest change of one of the user's devices (not of their cross-signing keys), if any. */
  latestDeviceChangeOf(userId: string): Promise<number | undefined>;
  /** Changes (of any user) in (after, upTo], in stream order, at most `limit`. */
  changesAfter(after: number, upTo: number, limit: number): Promise<DeviceListChangeRecord[]>;
  /** The users' chains: for each server a chain goes to, its last stream_id. */
  outboundHeads(userIds: string[]): Promise<DeviceListOutboundHead[]>;
  /** Moves chains to new heads (each one's last update queued; one head per chain). */
  setOutboundHeads(heads: DeviceListOutboundHead[]): Promise<void>;
  /** Ends chains: the next update to that server names no prev_id (the server then resyncs). */
  breakOutboundChains(chains: { userId: string; destination: string }[]): Promise<void>;
  /** Users whose device lists changed in (after, upTo] and who share a room with the viewer (or are the viewer). */
  changedUsers(viewerId: string, after: number, upTo: number): Promise<string[]>;
  /** Users joined to a room the user is joined to (the user included). */
  usersSharingRoomWith(userId: string): Promise<string[]>;
  /** Of these users, those who share no room with the viewer now (both joined). */
  usersSharingNoRoom(viewerId: string, userIds: string[]): Promise<string[]>;
  /** Joined members of the room, now. */
  joinedMembers(roomId: string): Promise<string[]>;
  /** Member events in the rooms with positions in (after, upTo]. */
  memberChanges(roomIds: string[], after: number, upTo: number): Promise<MemberChange[]>;
  /** The user's own membership events in (after, upTo] (the rooms they joined or left). */
  ownMemberChanges(userId: string, after: number, upTo: number): Promise<MemberChange[]>;
}

/** A to-device message as delivered: the stream position and the event's JSON. */
export interface ToDeviceMessage {
  position: number;
  messageJson: string;
}

export interface ToDeviceRecipient {
  userId: string;
  deviceId: string;
}

export interface ToDeviceStore {
  /** The newest position of the toDevice stream ever given (0 before any). */
  maxPosition(): Promise<number>;
  /**
   * Queues the messages under the sender's transaction, atomically. Undefined
   * when the transaction was done before (nothing queued again); else the last position.
   */
  enqueue(
    transaction: { userId: string; deviceId: string; endpoint: string; txnId: string },
    messages: { recipient: ToDeviceRecipient; messageJson: string }[],
  ): Promise<{ lastPosition: number } | undefined>;
  /** Deletes the device's messages at or before the position (acknowledged by its sync). */
  acknowledge(recipient: ToDeviceRecipient, upTo: number): Promise<void>;
  /** The device's messages in (after, upTo], oldest first, at most `limit`. */
  pending(
    recipient: ToDeviceRecipient,
    after: number,
    upTo: number,
    limit: number,
  ): Promise<ToDeviceMessage[]>;
}

export interface BackupVersionRecord {
  userId: string;
  version: number;
  algorithm: string;
  authDataJson: string;
  etag: number;
}

export interface KeyBackupStore {
  createVersion(userId: string, algorithm: string, authDataJson: string): Promise<number>;
  /** The version, or the current one (highest not deleted) when none is named. */
  getVersion(userId: string, version?: number): Promise<BackupVersionRecord | undefined>;
  updateAuthData(userId: string, version: number, authDataJson: string): Promise<void>;
  /** Deletes the version and its keys; false when it did not exist. */
  deleteVersion(userId: string, version: number): Promise<boolean>;
  countKeys(userId: string, version: number): Promise<number>;
  /** Keys of the version, optionally of one room / one session. */
  getKeys(
    userId: string,
    version: number,
    roomId?: string,
    sessionId?: string,
  ): Promise<BackupKeyRecord[]>;
  /** The stored keys of these sessions in the version (those it has), in no particular order. */
  keysOfSessions(
    userId: string,
    version: number,
    sessions: { roomId: string; sessionId: string }[],
  ): Promise<BackupKeyRecord[]>;
  /**
   * Stores the keys (replacing the stored ones of their sessions) and bumps the
   * etag, atomically, only if the version is not deleted and its etag is still
   * `expectedEtag`; false (nothing written) otherwise. Optimistic concurrency:
   * the caller read the etag (getVersion) before the stored keys its choice of
   * keys rests on (keysOfSessions), and reads both again when this fails.
   * No keys: nothing written, the etag kept; true when it matches.
   */
  putKeys(
    userId: string,
    version: number,
    keys: BackupKeyRecord[],
    expectedEtag: number,
  ): Promise<boolean>;
  /** Deletes keys of the version (all, a room's, or one session's) and bumps the etag. */
  deleteKeys(userId: string, version: number, roomId?: string, sessionId?: string): Promise<void>;
}

/**
 * A child event's relationship to its parent (`m.relates_to` with a rel_type),
 * as indexed when the child was stored. Redacted children are not indexed.
 */
export interface RelationRecord {
  eventId: string;
  /** The parent event. */
  relatesTo: string;
  relType: string;
  roomId: string;
  /** The child's event type. */
  type: string;
  sender: string;
  isState: boolean;
  /** An annotation's key. */
  key?: string;
  /** Whether the child's content has an `m.new_content` object (edits). */
  hasNewContent: boolean;
  /** The thread the child belongs to: its root's ID, or 'main'. */
  threadId: string;
  originServerTs: number;
  streamOrdering: number;
}

/** A thread root's aggregation inputs: unredacted thread events and the newest of them. */
export interface ThreadSummary {
  rootId: string;
  count: number;
  latestEventId: string;
}

export interface ThreadActivity {
  rootId: string;
  /** The position of the thread's newest event. */
  latestStreamOrdering: number;
}

export interface ChildrenQuery {
  parentId: string;
  relType?: string;
  eventType?: string;
  /** 1: direct children only; more: descendants through matching children. */
  depth: number;
  /** Exclusive lower bound of the stream positions. */
  after: number;
  /** Inclusive upper bound. */
  upTo: number;
  limit: number;
  order: 'newest-first' | 'oldest-first';
}

export interface ThreadsQuery {
  roomId: string;
  /** Threads whose latest activity is at or before this position. */
  upTo: number;
  limit: number;
  /** Only threads this user started or replied in. */
  participant?: string;
}

/** One room searched, up to the last position the searcher may read it at. */
export interface SearchedRoom {
  roomId: string;
  upTo: number;
}

/** A full-text query over the rooms given (src/search/search-service.ts builds it). */
export interface SearchQuery {
  /** Folded words (letters and digits only), all required; the last matched as a prefix. */
  terms: readonly string[];
  keys: readonly SearchKey[];
  rooms: readonly SearchedRoom[];
  /** Only this sender's events (a `sender` group's pages). */
  sender?: string;
}

export interface SearchPageQuery extends SearchQuery {
  /** rank: best first (then newest) of the newest RANKED_MATCHES matches; recent: newest first. */
  order: 'rank' | 'recent';
  limit: number;
  /** rank: the hits of the ranked list to skip. */
  offset?: number;
  /** recent: only hits below this stream position. */
  before?: number;
}

export interface SearchHit {
  eventId: string;
  roomId: string;
  streamOrdering: number;
  /** Higher is closer; comparable within one answer only. */
  rank: number;
}

/**
 * The search index (`event_search`): the room stores write an event's
 * searchable text in the events' own transaction and delete a redacted
 * event's; these are its reads.
 */
export interface SearchStore {
  search(query: SearchPageQuery): Promise<SearchHit[]>;
  /** How many indexed events match, before visibility (the spec's "approximate count"). */
  count(query: SearchQuery): Promise<number>;
}

/** The index of event relationships, written with the events (RoomStore.persistEvents). */
export interface RelationStore {
  /** The thread an event belongs to: its root's ID, or 'main' (receipts, push counts). */
  threadOf(eventId: string): Promise<string>;
  /**
   * False only when the event certainly has no child (no relation names it),
   * known without a query (from what this process has stored since it
   * started); a store that cannot tell answers true.
   */
  mayHaveChildren(eventId: string, streamOrdering: number): Promise<boolean>;
  /** The children of the given parents with this rel_type, oldest first. */
  childrenOfType(parentIds: string[], relType: string): Promise<RelationRecord[]>;
  /** Count and newest event of each given root that has a thread, not counting these senders. */
  threadSummaries(rootIds: string[], ignoredSenders?: readonly string[]): Promise<ThreadSummary[]>;
  /** The given roots in whose thread the user sent an event. */
  threadsWithSender(rootIds: string[], userId: string): Promise<Set<string>>;
  /** Whether the user has an unredacted annotation of this type and key on the event. */
  hasAnnotation(parentId: string, sender: string, type: string, key: string): Promise<boolean>;
  /** Children (or descendants) of an event in a range of positions, at most `limit`. */
  children(query: ChildrenQuery): Promise<RelationRecord[]>;
  /** A room's thread roots by latest activity, newest first. */
  threads(query: ThreadsQuery): Promise<ThreadActivity[]>;
}

// Push (src/push/): what users' push rules made of events, read positions, pushers.

/** An event that notifies a user, as their push rules decided. */
export interface NotificationRecord {
  userId: string;
  roomId: string;
  eventId: string;
  streamOrdering: number;
  /** 'main' or the thread root's event ID. */
  threadId: string;
  notify: boolean;
  highlight: boolean;
  /** The matching rule's actions (JSON values). */
  actions: unknown[];
  /** When it was recorded, in milliseconds. */
  ts: number;
}

/** A move of a user's read position in a room: threadId undefined moves every thread. */
export interface ReadMove {
  userId: string;
  roomId: string;
  threadId?: string;
  streamOrdering: number;
}

/** What evaluating a run of events produced, stored in one transaction with the progress. */
export interface EvaluatedEvents {
  notifications: NotificationRecord[];
  /** Senders' own events count as read up to them. */
  readMoves: ReadMove[];
  /** Every event up to this position is now evaluated. */
  evaluatedUpTo: number;
}

export interface UnreadCounts {
  notificationCount: number;
  highlightCount: number;
}

export interface NotificationPageQuery {
  userId: string;
  /** Only notifications before this position (exclusive); undefined: the newest. */
  before?: number;
  limit: number;
  onlyHighlight: boolean;
}

/** Timestamps (ms): read notifications from before them are pruned (see `pruneRead`). */
export interface NotificationCutoffs {
  /** For notifications that are not highlights. */
  before: number;
  highlightsBefore: number;
}

/** How far a step of pruning got: undefined `lastUser` once every user is done. */
export interface PruneStep {
  deleted: number;
  lastUser?: number;
}

export interface NotificationStore {
  /** Every event at or before this position has been evaluated. */
  evaluatedUpTo(): Promise<number>;
  /**
   * Records an evaluation: its notifications, its read moves and the progress
   * mark (which never moves back). When it resolves, every read of this
   * store counts it (unread counts, `roomsChanged`, `evaluatedUpTo`, the rows
   * `page`, `unreadAfter` and `pruneRead` see). Its rows may be written after
   * that, behind: in the order recorded, several evaluations in one
   * transaction with the progress mark, so they are stored whole or not at
   * all (and if not, the events are evaluated again after a restart); all
   * are written by the time the storage has closed. A failed write is
   * reported by the next call of `recordEvaluated`, which then records
   * nothing; what failed stops counting in reads (they go to the rows
   * again), while `evaluatedUpTo` does not move back (the caller has moved
   * past those events).
   */
  recordEvaluated(result: EvaluatedEvents): Promise<void>;
  /** IDs of events with positions in (after, upTo], oldest first, at most `limit` (resuming at start). */
  eventIdsAfter(after: number, upTo: number, limit: number): Promise<string[]>;
  /** Moves the user's read position forward (never back). */
  markRead(move: ReadMove): Promise<void>;
  /** Unread notifying events per thread of a room, up to a position. */
  unreadByThread(userId: string, roomId: string, upTo: number): Promise<Map<string, UnreadCounts>>;
  /** Unread notifying events in all the user's rooms (the push badge). */
  totalUnread(userId: string): Promise<number>;
  /** Rooms with a notification or a read move for the user at positions in (after, upTo]. */
  roomsChanged(userId: string, after: number, upTo: number): Promise<string[]>;
  /** Newest first; `read` tells whether the user's read position covers it. */
  page(query: NotificationPageQuery): Promise<(NotificationRecord & { read: boolean })[]>;
  /** The user's unread notifications after a position, oldest first (what pushers send). */
  unreadAfter(userId: string, after: number, limit: number): Promise<NotificationRecord[]>;
  /**
   * Deletes read notifications older than the cutoffs, user by user, until
   * done or aborted; returns how many. Read ones no longer count, so no
   * unread count changes: only GET /notifications stops listing them.
   */
  pruneRead(cutoffs: NotificationCutoffs, signal?: AbortSignal): Promise<number>;
}

export interface PusherStore {
  list(userId: string): Promise<PusherRecord[]>;
  /** Every user who has a pusher (resumed at start). */
  usersWithPushers(): Promise<string[]>;
  /**
   * Creates or replaces the user's pusher for (app_id, pushkey); without `append`,
   * deletes other users' pushers for the same (app_id, pushkey), atomically.
   */
  put(pusher: PusherRecord, append: boolean): Promise<void>;
  /** False if there was no such pusher. */
  delete(userId: string, appId: string, pushkey: string): Promise<boolean>;
  /** Records progress after a notification was sent or given up on. */
  setProgress(
    userId: string,
    appId: string,
    pushkey: string,
    progress: { lastStreamOrdering: number; failingSince?: number; lastError?: string },
  ): Promise<void>;
}
