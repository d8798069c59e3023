import type { Pdu } from '../events/pdu.js';
import type { UserPushRules } from '../push/types.js';

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
}

export interface DeviceRecord {
  userId: string;
  deviceId: string;
  displayName: string | null;
  lastSeenTs: number | null;
  lastSeenIp: string | null;
}

/** What an access token resolves to. */
export interface TokenOwner {
  userId: string;
  deviceId: string;
  isGuest: boolean;
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
  close(): Promise<void>;
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
  /** Marks the user deactivated and removes every device and token; returns revoked token hashes. */
  deactivate(userId: string): Promise<string[]>;
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
}

export interface DeviceStore {
  getDevice(userId: string, deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(userId: string): Promise<DeviceRecord[]>;
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

/** A room event as stored: its ID, PDU and place in the server's event stream. */
export interface EventRecord {
  eventId: string;
  roomId: string;
  pdu: Pdu;
  streamOrdering: number;
  /** The redaction event applied to this event, if any. */
  redactedBy?: string;
  /** For a state event: the event it replaced in the room's state. */
  replacesState?: string;
  /** The client transaction that sent it, if any (for unsigned.transaction_id). */
  transaction?: { userId: string; deviceId: string; txnId: string };
}

/** A state map: stateMapKey(type, state_key) → event ID. */
export type StateIds = Map<string, string>;

export interface NewRoomEvent {
  eventId: string;
  roomId: string;
  pdu: Pdu;
  /** Set when the event came with a client transaction ID, for idempotent retries. */
  transaction?: { userId: string; deviceId: string; endpoint: string; txnId: string };
}

export interface RoomStore {
  /** Records a new room; its events follow through persistEvent. */
  createRoom(room: RoomRecord, now: number): Promise<void>;
  getRoom(roomId: string): Promise<RoomRecord | undefined>;
  getEvent(eventId: string): Promise<EventRecord | undefined>;
  getEvents(eventIds: string[]): Promise<EventRecord[]>;
  /** The room's current state as event IDs. */
  currentStateIds(roomId: string): Promise<StateIds>;
  /** Only the given (type, state_key) pairs of the current state: what an event's auth needs. */
  currentStateIdsFor(
    roomId: string,
    pairs: { type: string; stateKey: string }[],
  ): Promise<StateIds>;
  /** The state after the given event, as event IDs. */
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

  // Reads by stream position, for sync and history.
  /** The newest position of the event stream (0 when there are no events). */
  maxStreamOrdering(): Promise<number>;
  /** A room's events with positions in (after, upTo], at most `limit`, in the order asked. */
  roomEvents(query: RoomEventsQuery): Promise<EventRecord[]>;
  /** The position of the room's last event at or before `upTo`. */
  lastPositionInRoom(roomId: string, upTo: number): Promise<number | undefined>;
  /** The room's state after its last event at or before `position` (empty before the room). */
  stateIdsAt(roomId: string, position: number): Promise<StateIds>;
  /** Every membership event about the user up to a position, oldest first. */
  membershipEventsOf(userId: string, upTo: number): Promise<MembershipEvent[]>;
  /** Joined and invited members in the current state. */
  memberCounts(roomId: string): Promise<{ joined: number; invited: number }>;
  /** Up to `limit` joined or invited members of the room (for the sync summary's heroes). */
  someMembers(roomId: string, limit: number): Promise<string[]>;
  /** Rooms the user has forgotten. */
  forgottenRooms(userId: string): Promise<string[]>;
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

/** One page of the published room directory, in the store's stable order. */
export interface PublishedRoomsPage {
  roomIds: string[];
  /** Opaque tokens: absent when there is nothing further in that direction. */
  nextBatch?: string;
  prevBatch?: string;
  /** Every published room, before any filter. */
  total: number;
}

export interface PublishedRoomsQuery {
  limit: number;
  /** A token from an earlier page; it also tells the direction. */
  since?: string;
  /** Keeps only the rooms it accepts (search terms, room types); absent: all. */
  accept?: (roomId: string) => Promise<boolean>;
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
  /** Undefined when `since` is not a token this store issued. */
  listPublished(query: PublishedRoomsQuery): Promise<PublishedRoomsPage | undefined>;
  /** Joined members per room, from the current state. */
  joinedMemberCount(roomId: string): Promise<number>;
}
