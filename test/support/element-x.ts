/**
 * What Element X (matrix-rust-sdk) sends to simplified sliding sync, exactly:
 * the bodies of its three connections as matrix-rust-sdk builds them and its
 * own integration tests assert them (crates/matrix-sdk-ui: room_list_service,
 * encryption_sync_service, notification_client), serialised by Ruma's
 * `sync_events::v5::Request` (empty maps and unset options left out).
 * Shared by test/e2e/sliding-sync*.test.ts and bench/sliding-sync.ts.
 *
 * Query parameters: `pos` (absent on a new connection), `timeout` in ms (0
 * while the room list grows, 30000 once it is whole; the notification client
 * polls with 1000), `set_presence` only when not `online`.
 */

type Json = Record<string, unknown>;

/** DEFAULT_REQUIRED_STATE of the room list service (lists and subscriptions). */
export const ROOM_LIST_REQUIRED_STATE: [string, string][] = [
  ['m.room.name', ''],
  ['m.room.encryption', ''],
  ['m.room.member', '$LAZY'],
  ['m.room.member', '$ME'],
  ['m.room.topic', ''],
  ['m.room.avatar', ''],
  ['m.room.canonical_alias', ''],
  ['m.room.power_levels', ''],
  ['org.matrix.msc3401.call.member', '*'],
  ['m.room.join_rules', ''],
  ['m.room.tombstone', ''],
  ['m.room.create', ''],
  ['m.room.history_visibility', ''],
  ['io.element.functional_members', ''],
  ['m.space.parent', '*'],
  ['m.space.child', '*'],
  ['org.matrix.msc3672.beacon_info', '*'],
];

/** A room subscription's required state: the list's and the pinned events. */
export const SUBSCRIPTION_REQUIRED_STATE = [
  ...ROOM_LIST_REQUIRED_STATE,
  ['m.room.pinned_events', ''],
];

/** The room list's first range, then growing batches of 100: [0,19], [0,99], [0,199], … */
export const FIRST_RANGE_END = 19;
export const GROWING_BATCH = 100;

/** The `room-list` connection: one list `all_rooms`, timeline 1; subscriptions with timeline 20. */
export function roomListBody(end: number, subscriptions: readonly string[] = []): Json {
  return {
    conn_id: 'room-list',
    lists: {
      all_rooms: {
        ranges: [[0, end]],
        required_state: ROOM_LIST_REQUIRED_STATE,
        filters: {},
        timeline_limit: 1,
      },
    },
    ...(subscriptions.length > 0
      ? {
          room_subscriptions: Object.fromEntries(
            subscriptions.map((roomId) => [
              roomId,
              { required_state: SUBSCRIPTION_REQUIRED_STATE, timeline_limit: 20 },
            ]),
          ),
        }
      : {}),
    extensions: {
      account_data: { enabled: true },
      receipts: { enabled: true, rooms: ['*'] },
      typing: { enabled: true },
    },
  };
}

/** The `encryption` connection: to-device (with the last next_batch) and E2EE only. */
export function encryptionBody(since?: string): Json {
  return {
    conn_id: 'encryption',
    extensions: {
      to_device: { enabled: true, ...(since === undefined ? {} : { since }) },
      e2ee: { enabled: true },
    },
  };
}

/** The notification client's required state (its lists and subscriptions). */
export const NOTIFICATION_REQUIRED_STATE: [string, string][] = [
  ['m.room.encryption', ''],
  ['m.room.member', '$LAZY'],
  ['m.room.member', '$ME'],
  ['m.room.canonical_alias', ''],
  ['m.room.name', ''],
  ['m.room.avatar', ''],
  ['m.room.power_levels', ''],
  ['m.room.join_rules', ''],
  ['org.matrix.msc3401.call.member', '*'],
  ['m.room.create', ''],
  ['io.element.functional_members', ''],
];

/** The `notifications` connection: an invites list and the notified rooms' subscriptions. */
export function notificationsBody(roomIds: readonly string[] = []): Json {
  return {
    conn_id: 'notifications',
    lists: {
      invites: {
        ranges: [[0, 16]],
        required_state: NOTIFICATION_REQUIRED_STATE,
        filters: { is_invite: true },
        timeline_limit: 8,
      },
    },
    ...(roomIds.length > 0
      ? {
          room_subscriptions: Object.fromEntries(
            roomIds.map((roomId) => [
              roomId,
              { required_state: NOTIFICATION_REQUIRED_STATE, timeline_limit: 16 },
            ]),
          ),
        }
      : {}),
    extensions: { account_data: { enabled: true } },
  };
}
