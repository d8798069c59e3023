/**
 * The room versions Weft knows and what differs between them. Every rule that
 * depends on the version (event ID format, redaction, authorization) reads a
 * property here instead of comparing version strings, so that versions 1–9 can
 * be added later as more entries without restructuring the rules.
 */
import { MatrixError } from '../protocol/errors.js';

export interface RoomVersion {
  id: string;
  stability: 'stable' | 'unstable';

  // --- Event format ---
  /**
   * How event IDs are made: `reference-hash-url` = `$` + unpadded URL-safe base64
   * of the reference hash (v4+); v3 used standard base64, v1–2 server-chosen IDs.
   */
  eventIdFormat: 'reference-hash-url';
  /** Room ID = `!` + the create event's reference hash, no server part; the create event has no room_id (v12). */
  roomIdFromCreateEvent: boolean;

  // --- Redaction ---
  /** The redaction algorithm: `v11` (v11+: keeps create content, `redacts` in content, PL `invite`) or `v9` (v9–v10). */
  redactionAlgorithm: 'v9' | 'v11';
  /** `m.room.redaction` carries `redacts` in `content` (v11+) rather than at the top level. */
  redactsInContent: boolean;

  // --- Authorization rules ---
  /** Power level values must be integers, not strings (v10+). */
  integerPowerLevels: boolean;
  /** The `knock_restricted` join rule exists (v10+). */
  knockRestrictedJoinRule: boolean;
  /** `m.room.create` has no `creator`; its sender is the creator (v11+). */
  creatorIsCreateSender: boolean;
  /** The creators (create sender + `additional_creators`) have unlimited power and are not in `users` (v12). */
  creatorsHaveInfinitePower: boolean;
  /** `m.room.create` may list `additional_creators`, who are creators too (v12). */
  additionalCreators: boolean;
  /** The create event is selected for `auth_events` (v1–11); in v12 the room ID implies it instead. */
  authEventsIncludeCreate: boolean;

  // --- State resolution ---
  /**
   * `v2` (rooms/v2, v2–v11) or `v2.1` (v12, MSC4297): the first iterative auth
   * checks start from an empty state, and the full conflicted set adds the
   * conflicted state subgraph.
   */
  stateResolution: 'v2' | 'v2.1';
}

const V10: RoomVersion = {
  id: '10',
  stability: 'stable',
  eventIdFormat: 'reference-hash-url',
  roomIdFromCreateEvent: false,
  redactionAlgorithm: 'v9',
  redactsInContent: false,
  integerPowerLevels: true,
  knockRestrictedJoinRule: true,
  creatorIsCreateSender: false,
  creatorsHaveInfinitePower: false,
  additionalCreators: false,
  authEventsIncludeCreate: true,
  stateResolution: 'v2',
};

const V11: RoomVersion = {
  ...V10,
  id: '11',
  redactionAlgorithm: 'v11',
  redactsInContent: true,
  creatorIsCreateSender: true,
};

const V12: RoomVersion = {
  ...V11,
  id: '12',
  roomIdFromCreateEvent: true,
  creatorsHaveInfinitePower: true,
  additionalCreators: true,
  authEventsIncludeCreate: false,
  stateResolution: 'v2.1',
};

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [V10, V11, V12].map((v) => [v.id, v]),
);

export function roomVersion(id: string): RoomVersion {
  const version = ROOM_VERSIONS.get(id);
  if (!version) {
    throw new MatrixError(400, 'M_UNSUPPORTED_ROOM_VERSION', `Room version ${id} is not supported`);
  }
  return version;
}
