/**
 * Sliding sync's extensions (to_device, e2ee, account_data, receipts, typing)
 * and the rooms' unread counts, from /sync's own stream providers
 * (sync/sync-streams.ts): they run against parts of this module's making, and
 * what they add is read back out into the extensions' shapes. So an extension
 * carries exactly what /sync would, between the connection's two positions.
 */
import type { JsonObject } from '../events/pdu.js';
import type { Viewer } from '../sync/event-views.js';
import { DEFAULT_SYNC_FILTER } from '../sync/filters.js';
import { zeroPositions, type StreamPositions } from '../sync/stream-token.js';
import type {
  JoinedRoomSection,
  StreamContext,
  SyncResponseParts,
  SyncStreamProvider,
  SyncTopLevel,
} from '../sync/sync-streams.js';
import type { ExtensionsConfig } from './sliding-sync-rules.js';

export interface ExtensionRun {
  viewer: Viewer;
  since: StreamPositions | undefined;
  upper: StreamPositions;
  config: ExtensionsConfig;
  joinedRoomIds: readonly string[];
  /** Rooms sent whole in this response: providers give their data whole too. */
  freshRoomIds: ReadonlySet<string>;
  /** Joined rooms whose unread counts are read (count-rules.ts: those that may have changed). */
  roomIds: readonly string[];
}

export interface ExtensionResult {
  parts: Parts;
  /** Whether a provider added something (a long-poll then answers). */
  changed: boolean;
  /** Where to-device delivery resumes: the next `since`. */
  toDeviceNext: number;
}

/** Which provider (by name) each extension needs; the unread counts always run. */
function enabledProviders(config: ExtensionsConfig): Set<string> {
  const names = new Set(['unreadCounts']);
  if (config.accountData.enabled) names.add('accountData');
  if (config.receipts.enabled) names.add('receipts');
  if (config.typing.enabled) names.add('typing');
  if (config.toDevice.enabled) names.add('toDevice');
  if (config.e2ee.enabled) ['deviceLists', 'keyCounts'].forEach((name) => names.add(name));
  return names;
}

/** Runs the enabled providers, in the order given (orderProviders' order). */
export async function runProviders(
  providers: readonly SyncStreamProvider[],
  run: ExtensionRun,
): Promise<ExtensionResult> {
  const parts = new Parts(run.upper, run.since !== undefined);
  for (const roomId of run.roomIds) parts.joinedRoom(roomId);
  const context: StreamContext = {
    viewer: run.viewer,
    since: run.since,
    upper: run.upper,
    fullState: false,
    filter: DEFAULT_SYNC_FILTER,
    joinedRoomIds: run.joinedRoomIds,
    freshRoomIds: run.freshRoomIds,
  };
  const enabled = enabledProviders(run.config);
  let changed = false;
  for (const provider of providers) {
    if (!enabled.has(provider.name)) continue;
    const own = provider.name === 'toDevice' ? toDeviceContext(context, run) : context;
    if (hasNothingToAdd(provider, own)) continue;
    if (await provider.contribute(own, parts)) changed = true;
  }
  const toDeviceNext = parts.heldBack.toDevice ?? run.upper.toDevice;
  return { parts, changed, toDeviceNext };
}

/**
 * The to-device extension has its own `since` (its last `next_batch`), which
 * acknowledges what came before it; without one, the connection's position
 * does (and a new connection acknowledges nothing).
 */
function toDeviceContext(context: StreamContext, run: ExtensionRun): StreamContext {
  const { since, limit } = run.config.toDevice;
  const limited = limit === undefined ? context : { ...context, toDeviceLimit: limit };
  if (since === undefined) return limited;
  const base = run.since ?? zeroPositions();
  return { ...limited, since: { ...base, toDevice: Math.min(since, run.upper.toDevice) } };
}

/** As /sync: a provider whose stream did not move adds nothing unless a room is fresh. */
function hasNothingToAdd(provider: SyncStreamProvider, context: StreamContext): boolean {
  const { stream } = provider;
  if (!provider.onlyChangesOfItsStream || stream === undefined) return false;
  if (!context.since || context.freshRoomIds.size > 0) return false;
  return context.since[stream] === context.upper[stream];
}

/** The response parts the providers fill. */
export class Parts implements SyncResponseParts {
  readonly top: SyncTopLevel;
  readonly heldBack: SyncResponseParts['heldBack'] = {};
  private readonly sections = new Map<string, JoinedRoomSection>();
  /** Each section's counts as made: still these, its counts were not read. */
  private readonly unreadCounts = new WeakSet<object>();

  constructor(
    private readonly upper: StreamPositions,
    incremental: boolean,
  ) {
    this.top = {
      presence: { events: [] },
      account_data: { events: [] },
      to_device: { events: [] },
      device_one_time_keys_count: { signed_curve25519: 0 },
      device_unused_fallback_key_types: [],
      ...(incremental ? { device_lists: { changed: [], left: [] } } : {}),
    };
  }

  get joinedRooms(): ReadonlyMap<string, JoinedRoomSection> {
    return this.sections;
  }

  joinedRoom(roomId: string): JoinedRoomSection {
    let section = this.sections.get(roomId);
    if (!section) {
      const unread = { notification_count: 0, highlight_count: 0 };
      this.unreadCounts.add(unread);
      section = {
        timeline: { events: [], limited: false },
        ephemeral: { events: [] },
        account_data: { events: [] },
        unread_notifications: unread,
      };
      this.sections.set(roomId, section);
    }
    return section;
  }

  /**
   * The room's counts, when the unread counts provider read them (it replaces
   * the section's counts): for the rooms asked for, and for those other
   * providers added sections for before it ran.
   */
  counts(roomId: string): { notificationCount: number; highlightCount: number } | undefined {
    const counts = this.sections.get(roomId)?.unread_notifications;
    if (!counts || this.unreadCounts.has(counts)) return undefined;
    return {
      notificationCount: counts.notification_count,
      highlightCount: counts.highlight_count,
    };
  }

  /** `type`'s ephemeral event of each room in scope that has one. */
  ephemeralOfType(type: string, scope: ReadonlySet<string>): Record<string, JsonObject> {
    const rooms: Record<string, JsonObject> = {};
    for (const [roomId, section] of this.sections) {
      if (!scope.has(roomId)) continue;
      const event = section.ephemeral.events.find((e) => e.type === type);
      if (event) rooms[roomId] = withoutRoomId(event);
    }
    return rooms;
  }

  roomAccountData(scope: ReadonlySet<string>): Record<string, JsonObject[]> {
    const rooms: Record<string, JsonObject[]> = {};
    for (const [roomId, section] of this.sections) {
      if (scope.has(roomId) && section.account_data.events.length > 0) {
        rooms[roomId] = section.account_data.events;
      }
    }
    return rooms;
  }
}

function withoutRoomId(event: JsonObject): JsonObject {
  const copy = { ...event };
  delete copy.room_id;
  return copy;
}

/** The `extensions` object of the response: one entry per enabled extension. */
export function extensionsJson(
  config: ExtensionsConfig,
  result: ExtensionResult,
  scopes: { accountData: Set<string>; receipts: Set<string>; typing: Set<string> },
): JsonObject {
  const { top } = result.parts;
  const extensions: JsonObject = {};
  if (config.toDevice.enabled) {
    extensions.to_device = {
      next_batch: String(result.toDeviceNext),
      events: top.to_device.events,
    };
  }
  if (config.e2ee.enabled) {
    extensions.e2ee = {
      device_lists: top.device_lists ?? { changed: [], left: [] },
      device_one_time_keys_count: top.device_one_time_keys_count,
      device_unused_fallback_key_types: top.device_unused_fallback_key_types,
    };
  }
  if (config.accountData.enabled) {
    extensions.account_data = {
      global: top.account_data.events,
      rooms: result.parts.roomAccountData(scopes.accountData),
    };
  }
  if (config.receipts.enabled) {
    extensions.receipts = { rooms: result.parts.ephemeralOfType('m.receipt', scopes.receipts) };
  }
  if (config.typing.enabled) {
    extensions.typing = { rooms: result.parts.ephemeralOfType('m.typing', scopes.typing) };
  }
  return extensions;
}

/** Whether the extensions carry anything new (the key counts always stand, so they do not count). */
export function extensionsHaveNews(extensions: JsonObject): boolean {
  const ext = extensions as {
    to_device?: { events: unknown[] };
    e2ee?: { device_lists: { changed: unknown[]; left: unknown[] } };
    account_data?: { global: unknown[]; rooms: object };
    receipts?: { rooms: object };
    typing?: { rooms: object };
  };
  const some = (value: object | undefined) => value !== undefined && Object.keys(value).length > 0;
  return (
    (ext.to_device?.events.length ?? 0) > 0 ||
    (ext.e2ee?.device_lists.changed.length ?? 0) > 0 ||
    (ext.e2ee?.device_lists.left.length ?? 0) > 0 ||
    (ext.account_data?.global.length ?? 0) > 0 ||
    some(ext.account_data?.rooms) ||
    some(ext.receipts?.rooms) ||
    some(ext.typing?.rooms)
  );
}
