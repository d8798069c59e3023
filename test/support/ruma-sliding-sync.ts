/**
 * What Ruma's `sync_events::v5::Response` (ruma-client-api, the type
 * matrix-rust-sdk parses a simplified sliding sync response into) refuses:
 * a missing required field or a value of the wrong type anywhere fails the
 * whole response for Element X. Checked field by field from the Rust types:
 * `UInt` is an integer in 0..2^53-1, `Option<T>` accepts null, an
 * `OwnedUserId` must parse as a user ID, `JsOption` (avatar) tells null from
 * absent. Events inside (`Raw<…>`) are parsed later by the SDK: their event
 * fields are checked as the event types require (type, content, and for
 * timeline and state events event_id, sender, origin_server_ts).
 */
import assert from 'node:assert/strict';

type Json = Record<string, unknown>;

const USER_ID = /^@[^:]+:.+$/;
/** Ruma's room ID check: the sigil, no NUL, at most 255 bytes (v12 IDs have no server name). */
const ROOM_ID = /^![^\0]{1,254}$/;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function uint(value: unknown, where: string): void {
  assert.ok(
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0,
    `${where}: a UInt, got ${JSON.stringify(value)}`,
  );
}

/** `Option<T>`: absent or null, else checked. */
function optional(value: unknown, check: (v: unknown) => void): void {
  if (value !== undefined && value !== null) check(value);
}

function str(value: unknown, where: string): void {
  assert.equal(typeof value, 'string', `${where}: a string`);
}

function bool(value: unknown, where: string): void {
  assert.equal(typeof value, 'boolean', `${where}: a boolean`);
}

function userId(value: unknown, where: string): void {
  assert.ok(typeof value === 'string' && USER_ID.test(value), `${where}: a user ID`);
}

function array(value: unknown, where: string, each: (v: unknown, at: string) => void): void {
  if (value === undefined) return; // `#[serde(default)]`
  assert.ok(Array.isArray(value), `${where}: an array`);
  value.forEach((item, i) => each(item, `${where}[${i}]`));
}

function map(value: unknown, where: string, each: (v: unknown, at: string) => void): void {
  if (value === undefined) return; // `#[serde(default)]`
  assert.ok(isObject(value), `${where}: an object`);
  for (const [key, item] of Object.entries(value)) each(item, `${where}.${key}`);
}

function roomMap(value: unknown, where: string, each: (v: unknown, at: string) => void): void {
  map(value, where, (item, at) => {
    const roomId = at.slice(where.length + 1);
    assert.ok(ROOM_ID.test(roomId), `${at}: the key is a room ID`);
    each(item, at);
  });
}

function basicEvent(value: unknown, where: string): void {
  assert.ok(isObject(value), `${where}: an event object`);
  str(value.type, `${where}.type`);
  assert.ok(isObject(value.content), `${where}.content: an object`);
}

function strippedStateEvent(value: unknown, where: string): void {
  basicEvent(value, where);
  const event = value as Json;
  str(event.state_key, `${where}.state_key`);
  userId(event.sender, `${where}.sender`);
}

function syncTimelineEvent(value: unknown, where: string): void {
  basicEvent(value, where);
  const event = value as Json;
  str(event.event_id, `${where}.event_id`);
  userId(event.sender, `${where}.sender`);
  uint(event.origin_server_ts, `${where}.origin_server_ts`);
  assert.equal(event.room_id, undefined, `${where}: sync format, no room_id`);
}

function syncStateEvent(value: unknown, where: string): void {
  syncTimelineEvent(value, where);
  str((value as Json).state_key, `${where}.state_key`);
}

function room(value: unknown, where: string): void {
  assert.ok(isObject(value), `${where}: an object`);
  optional(value.name, (v) => str(v, `${where}.name`));
  optional(value.avatar, (v) => str(v, `${where}.avatar`));
  optional(value.initial, (v) => bool(v, `${where}.initial`));
  optional(value.is_dm, (v) => bool(v, `${where}.is_dm`));
  optional(value.invite_state, (v) =>
    array(v, `${where}.invite_state`, (e, at) => strippedStateEvent(e, at)),
  );
  for (const field of ['notification_count', 'highlight_count'] as const) {
    optional(value[field], (v) => uint(v, `${where}.${field}`));
  }
  array(value.timeline, `${where}.timeline`, syncTimelineEvent);
  array(value.required_state, `${where}.required_state`, syncStateEvent);
  optional(value.prev_batch, (v) => str(v, `${where}.prev_batch`));
  if (value.limited !== undefined) bool(value.limited, `${where}.limited`);
  for (const field of ['joined_count', 'invited_count', 'num_live', 'bump_stamp'] as const) {
    optional(value[field], (v) => uint(v, `${where}.${field}`));
  }
  optional(value.heroes, (heroes) =>
    array(heroes, `${where}.heroes`, (hero, at) => {
      assert.ok(isObject(hero), `${at}: an object`);
      userId(hero.user_id, `${at}.user_id`);
      optional(hero.displayname, (v) => str(v, `${at}.displayname`));
      optional(hero.avatar_url, (v) => str(v, `${at}.avatar_url`));
    }),
  );
}

function extensions(value: unknown, where: string): void {
  if (value === undefined) return;
  assert.ok(isObject(value), `${where}: an object`);
  optional(value.to_device, (toDevice) => {
    assert.ok(isObject(toDevice), `${where}.to_device: an object`);
    str(toDevice.next_batch, `${where}.to_device.next_batch`);
    array(toDevice.events, `${where}.to_device.events`, (e, at) => {
      basicEvent(e, at);
      userId((e as Json).sender, `${at}.sender`);
    });
  });
  optional(value.e2ee, (e2ee) => {
    assert.ok(isObject(e2ee), `${where}.e2ee: an object`);
    optional(e2ee.device_lists, (lists) => {
      assert.ok(isObject(lists), `${where}.e2ee.device_lists: an object`);
      array(lists.changed, `${where}.e2ee.device_lists.changed`, userId);
      array(lists.left, `${where}.e2ee.device_lists.left`, userId);
    });
    map(e2ee.device_one_time_keys_count, `${where}.e2ee.device_one_time_keys_count`, uint);
    optional(e2ee.device_unused_fallback_key_types, (v) =>
      array(v, `${where}.e2ee.device_unused_fallback_key_types`, str),
    );
  });
  optional(value.account_data, (data) => {
    assert.ok(isObject(data), `${where}.account_data: an object`);
    array(data.global, `${where}.account_data.global`, basicEvent);
    roomMap(data.rooms, `${where}.account_data.rooms`, (events, at) =>
      array(events, at, basicEvent),
    );
  });
  for (const [name, type] of [
    ['receipts', 'm.receipt'],
    ['typing', 'm.typing'],
  ] as const) {
    optional(value[name], (ext) => {
      assert.ok(isObject(ext), `${where}.${name}: an object`);
      roomMap(ext.rooms, `${where}.${name}.rooms`, (event, at) => {
        basicEvent(event, at);
        assert.equal((event as Json).type, type, `${at}.type`);
      });
    });
  }
}

/** Fails, naming the field, where Ruma would refuse the response. */
export function assertRumaParses(body: unknown): void {
  assert.ok(isObject(body), 'the response is an object');
  str(body.pos, 'pos');
  optional(body.txn_id, (v) => str(v, 'txn_id'));
  map(body.lists, 'lists', (list, at) => {
    assert.ok(isObject(list), `${at}: an object`);
    uint(list.count, `${at}.count`);
  });
  roomMap(body.rooms, 'rooms', room);
  extensions(body.extensions, 'extensions');
}
