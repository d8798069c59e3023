/**
 * What Element X (matrix-rust-sdk's room list service) asks of simplified
 * sliding sync, shared by test/e2e/sliding-sync.test.ts and the bench.
 */

/** DEFAULT_REQUIRED_STATE of the room list's `all_rooms` list. */
export const ROOM_LIST_REQUIRED_STATE = [
  ['m.room.name', ''],
  ['m.room.encryption', ''],
  ['m.room.member', '$LAZY'],
  ['m.room.member', '$ME'],
  ['m.room.topic', ''],
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
  ['m.beacon_info', '*'],
];
