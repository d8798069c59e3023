/**
 * Narrow read views of the stores (issue 22): a service receives the stores of
 * its own area whole and, of other areas' stores, only the reads it makes. One
 * reader serves every service whose reads are alike; the full `Storage` still
 * satisfies each of them, so the composition root passes it unchanged.
 */
import type {
  AccountDataStore,
  DeviceStore,
  ProfileStore,
  RelationStore,
  RoomStore,
  UserStore,
} from './storage.js';

/**
 * A room, its current state (whole or by entry) and events by ID: the "is this
 * user joined?" checks (rooms/current-membership.ts), restricted joins, the
 * hierarchy, the directory, push details, receipts, reports.
 */
export type RoomStateReader = Pick<
  RoomStore,
  'getRoom' | 'getEvent' | 'getEvents' | 'currentStateIds' | 'currentStateIdsFor'
>;

/**
 * The rooms a user is in, by membership, and a room's member counts: presence,
 * device keys, profile propagation, deactivation, restricted joins, the hierarchy.
 */
export type MembershipReader = Pick<RoomStore, 'roomsWithMembership' | 'memberCounts'>;

/** The head of the event stream and a room's state at a position: the push workers walking it. */
export type StreamPositionReader = Pick<RoomStore, 'maxStreamOrdering' | 'stateIdsAt'>;

/** A user's account flags (exists, guest, admin, deactivated): auth, profiles, presence, rooms, reports. */
export type UserReader = Pick<UserStore, 'getUser'>;

/** A user's display name and avatar: member events (rooms/member-profiles.ts), presence, push. */
export type ProfileReader = Pick<ProfileStore, 'getProfile'>;

/** A user's devices: to-device messages find their recipients here (e2ee). */
export type DeviceReader = Pick<DeviceStore, 'getDevice' | 'listDevices'>;

/** The thread an event is in: receipts and push counts (relations/thread-of.ts). */
export type ThreadReader = Pick<RelationStore, 'threadOf'>;

/** A room's state at a stream position and after an event: history visibility, sync, /messages. */
export type StateHistoryReader = Pick<RoomStore, 'stateIdsAt' | 'stateIdsAfter'>;

/** A user's membership events and forgotten rooms: sync's room lists, who may read history. */
export type MembershipHistoryReader = Pick<RoomStore, 'membershipEventsOf' | 'forgottenRooms'>;

/** A user's account data, global and of some rooms, whole: /sync and /initialSync. */
export type AccountDataReader = Pick<AccountDataStore, 'whole' | 'get'>;

/** Events' children and their threads' summaries: bundled aggregations (sync/aggregations.ts). */
export type ChildEventsReader = Pick<
  RelationStore,
  'mayHaveChildren' | 'childrenOfType' | 'threadSummaries' | 'threadsWithSender' | 'children'
>;
