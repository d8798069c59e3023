/**
 * The extension point of /sync: one provider per stream (account data,
 * receipts, typing, presence, to-device, device lists, ...), each answering
 * "what changed for this user between `since` and `upper`" by adding to the
 * response. Room events and memberships are SyncService's own; every other
 * stream plugs in here, so SyncService does not grow with each feature.
 *
 * A provider's stream has a position in the sync token (stream-token.ts
 * STREAM_NAMES) and tells the notifier of each committed change, with the
 * users or rooms it concerns, so waiting long-polls wake.
 */
import type { JsonObject } from '../events/pdu.js';
import type { Viewer } from './event-views.js';
import type { SyncFilter } from './filters.js';
import type { StreamName, StreamPositions } from './stream-token.js';

export interface StreamContext {
  viewer: Viewer;
  /** Undefined on an initial sync. */
  since: StreamPositions | undefined;
  /** Nothing after these positions is read: the next sync starts from them. */
  upper: StreamPositions;
  fullState: boolean;
  filter: SyncFilter;
  /** The rooms the user is joined to at `upper`. */
  joinedRoomIds: readonly string[];
  /**
   * Joined rooms whose section is fresh (initial or full-state sync, or joined
   * since `since`): a provider gives their current ephemeral/account data whole.
   */
  freshRoomIds: ReadonlySet<string>;
  /** Sliding sync's `to_device.limit`: fewer to-device messages than the usual most per response. */
  toDeviceLimit?: number;
}

export interface EventList {
  events: JsonObject[];
}

/** The top-level fields of the response that providers fill. */
export interface SyncTopLevel {
  account_data: EventList;
  presence: EventList;
  to_device: EventList;
  device_one_time_keys_count: Record<string, number>;
  device_unused_fallback_key_types: string[];
  /** Incremental syncs only. */
  device_lists?: { changed: string[]; left: string[] };
}

/** A joined room's section: what providers add to. */
export interface JoinedRoomSection extends JsonObject {
  ephemeral: EventList & JsonObject;
  account_data: EventList & JsonObject;
  unread_notifications: { notification_count: number; highlight_count: number } & JsonObject;
}

export interface SyncResponseParts {
  top: SyncTopLevel;
  /** The joined rooms' sections so far (those with timeline or state changes, or added by a provider). */
  readonly joinedRooms: ReadonlyMap<string, JoinedRoomSection>;
  /**
   * The joined room's section, made empty if the room had nothing else in this
   * sync (it is then sent, so ask for it only to add to it).
   */
  joinedRoom(roomId: string): JoinedRoomSection;
  /**
   * Positions next_batch holds back: a stream that delivered only part of
   * what it has up to the upper bound (a to-device backlog) resumes after the
   * part delivered; the next sync then answers at once with the rest.
   */
  readonly heldBack: { -readonly [S in StreamName]?: number };
}

export interface SyncStreamProvider {
  /** Names the provider for `after`. */
  readonly name: string;
  /** Providers whose additions this one reads: it runs after them (orderProviders). */
  readonly after?: readonly string[];
  /** The stream whose position it reads, if any (the E2EE key counts, say, have none). */
  readonly stream?: StreamName;
  /**
   * True when it adds nothing to an incremental sync whose position in its
   * stream did not move and that has no fresh room: SyncService then skips it
   * (most long-polls are woken by one stream; the others need not be read).
   */
  readonly onlyChangesOfItsStream?: boolean;
  /** The stream's newest position in storage, where the notifier starts. */
  currentPosition?(): Promise<number>;
  /** Adds this stream's changes; true when it added something (a long-poll then answers). */
  contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean>;
}

/**
 * The providers in an order where each runs after those it names in `after`,
 * otherwise as given. Throws on an unknown name or a cycle: a wiring mistake.
 */
export function orderProviders<P extends SyncStreamProvider>(providers: readonly P[]): P[] {
  const byName = new Map(providers.map((provider) => [provider.name, provider]));
  const ordered: P[] = [];
  const placed = new Set<string>();
  const visiting = new Set<string>();
  const place = (provider: P) => {
    if (placed.has(provider.name)) return;
    if (visiting.has(provider.name)) throw new Error(`sync providers: a cycle at ${provider.name}`);
    visiting.add(provider.name);
    for (const name of provider.after ?? []) {
      const before = byName.get(name);
      if (!before) throw new Error(`sync providers: ${provider.name} runs after unknown ${name}`);
      place(before);
    }
    visiting.delete(provider.name);
    placed.add(provider.name);
    ordered.push(provider);
  };
  providers.forEach(place);
  return ordered;
}
