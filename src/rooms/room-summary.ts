/**
 * A room as the public room directory and the space hierarchy show it
 * (the spec's PublicRoomsChunk / RoomSummary), built from its current state.
 */
import { isObject } from '../events/auth/auth-state.js';
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { roomVersion } from '../events/room-versions.js';
import { allowedRoomIds, isRestrictedJoinRule } from './restricted-join.js';

/** The state events (empty state key) a summary reads. */
export const SUMMARY_STATE_TYPES = [
  'm.room.create',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.canonical_alias',
  'm.room.join_rules',
  'm.room.history_visibility',
  'm.room.guest_access',
];

/** What `roomDetails` reads besides: the summary's state events are read by then. */
export const DETAIL_STATE_TYPES = ['m.room.encryption'];

/** The content of a state event with an empty state key, if the room has one. */
export type StateContent = (type: string) => JsonObject | undefined;

export function roomSummary(
  roomId: string,
  content: StateContent,
  joinedMembers: number,
): JsonObject {
  const summary: JsonObject = {
    room_id: roomId,
    num_joined_members: joinedMembers,
    world_readable: content('m.room.history_visibility')?.history_visibility === 'world_readable',
    guest_can_join: content('m.room.guest_access')?.guest_access === 'can_join',
  };
  const optional: [string, JsonValue | undefined][] = [
    ['name', content('m.room.name')?.name],
    ['topic', plainTopic(content('m.room.topic'))],
    ['canonical_alias', content('m.room.canonical_alias')?.alias],
    ['avatar_url', content('m.room.avatar')?.url],
    ['join_rule', content('m.room.join_rules')?.join_rule],
    ['room_type', content('m.room.create')?.type],
  ];
  // Only well-formed values: a malformed state event must not break the listing's schema.
  for (const [key, value] of optional) if (typeof value === 'string') summary[key] = value;
  if (typeof summary.avatar_url === 'string' && !summary.avatar_url.startsWith('mxc://')) {
    delete summary.avatar_url;
  }
  if (typeof summary.canonical_alias === 'string' && !summary.canonical_alias.startsWith('#')) {
    delete summary.canonical_alias;
  }
  return summary;
}

/**
 * What v1.15 (MSC3266) adds to a summary in `/room_summary` and `/hierarchy`: the
 * room's version, its encryption algorithm, and the rooms a restricted join rule
 * allows (left out when there are none, as Synapse).
 */
export function roomDetails(version: string, content: StateContent): JsonObject {
  const details: JsonObject = { room_version: version };
  const algorithm = content('m.room.encryption')?.algorithm;
  if (typeof algorithm === 'string') details.encryption = algorithm;
  const joinRules = content('m.room.join_rules');
  const joinRule = joinRules?.join_rule;
  const allowed = allowedRoomIds(joinRules);
  const restricted =
    typeof joinRule === 'string' && isRestrictedJoinRule(joinRule, roomVersion(version));
  if (restricted && allowed.length > 0) details.allowed_room_ids = allowed;
  return details;
}

/**
 * The text/plain topic: from `m.topic` (`{ "m.text": [{ body, mimetype }] }`)
 * when it has one, else the `topic` string.
 */
function plainTopic(content: JsonObject | undefined): JsonValue | undefined {
  const rich = content?.['m.topic'];
  const representations = isObject(rich) ? rich['m.text'] : undefined;
  if (Array.isArray(representations)) {
    for (const part of representations) {
      if (typeof part !== 'object' || part === null || Array.isArray(part)) continue;
      const mimetype = part.mimetype ?? 'text/plain';
      if (mimetype === 'text/plain' && typeof part.body === 'string') return part.body;
    }
  }
  return content?.topic;
}
