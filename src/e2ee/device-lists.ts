/**
 * Device lists: which users' devices or cross-signing keys changed, so clients
 * know whose keys to query again. Each change is a position in the deviceLists
 * stream (device_list_changes), recorded by the write it is about: per device
 * (keys uploaded or signed, renamed, deleted) or for the cross-signing keys; the
 * federation sender sends each device's as its own m.device_list_update
 * (federation-sending.ts). Users who share a room with the changed user
 * (both joined) see it in /sync's `device_lists.changed` and in /keys/changes.
 * Joining and leaving shared rooms counts as a change too (`left` for a user
 * one no longer shares any room with).
 *
 * Any room, encrypted or not. /keys/changes's spec says so ("currently share a
 * room ... both users have membership state `join`"). For /sync's
 * `device_lists` the spec speaks of encrypted rooms, but Weft does as Synapse,
 * which reports the members of every shared room there too: both answers agree,
 * and a room that turns encrypted later leaves no stale device list in its
 * members' clients (they were told of every change all along).
 */
import type { Notifier } from '../sync/notifier.js';
import type { StreamPositions } from '../sync/stream-token.js';
import type { StreamContext, SyncResponseParts, SyncStreamProvider } from '../sync/sync-streams.js';
import type { DeviceListStore, MemberChange } from '../storage/storage.js';

export interface DeviceListDelta {
  changed: string[];
  left: string[];
}

/** The range a delta covers and the rooms the viewer is joined to at its end. */
export interface DeviceListWindow {
  viewerId: string;
  since: StreamPositions;
  upper: StreamPositions;
  joinedRoomIds: readonly string[];
}

const LEFT = new Set(['leave', 'ban']);

export class DeviceLists {
  constructor(
    private readonly store: DeviceListStore,
    private readonly notifier: Notifier,
    /** Told of each change recorded for another server's user (their cached keys are stale). */
    private readonly remoteChanged?: (userId: string) => void,
  ) {}

  /**
   * Wakes the long-polls of everyone who shares a room with the user (and the
   * user's own other devices) for a committed change at `position`, or at the
   * user's latest change when none is given (device deletion records its own).
   */
  async announce(userId: string, position?: number): Promise<void> {
    const at = position ?? (await this.store.latestChangeOf(userId));
    if (at === undefined) return;
    const userIds = new Set(await this.store.usersSharingRoomWith(userId));
    userIds.add(userId);
    this.notifier.notify({ stream: 'deviceLists', position: at, userIds });
  }

  /**
   * Records a change made outside any other storage write, and announces it:
   * a remote user's, told by their server's EDU (the cached keys are dropped
   * first, so the clients this wakes find the new ones).
   */
  async recordChange(userId: string): Promise<void> {
    this.remoteChanged?.(userId);
    await this.announce(userId, await this.store.recordChange(userId));
  }

  /** What changed for the viewer between two positions. */
  async delta(window: DeviceListWindow): Promise<DeviceListDelta> {
    const { viewerId, since, upper } = window;
    const changed = new Set(
      await this.store.changedUsers(viewerId, since.deviceLists, upper.deviceLists),
    );
    const leftCandidates = new Set<string>();
    if (upper.roomEvents > since.roomEvents) {
      await this.addMembershipChanges(window, changed, leftCandidates);
    }
    leftCandidates.delete(viewerId);
    const left = await this.store.usersSharingNoRoom(viewerId, [...leftCandidates]);
    for (const userId of left) changed.delete(userId);
    return { changed: [...changed].sort(), left: left.sort() };
  }

  /**
   * Users who joined a room the viewer is in (all its members when the viewer
   * is the one who joined) are changed; users who left one, or the members of
   * a room the viewer left, may be left. Both reads answer from memory when the
   * range holds no member event (the usual case: a sync woken by a message).
   */
  private async addMembershipChanges(
    window: DeviceListWindow,
    changed: Set<string>,
    leftCandidates: Set<string>,
  ): Promise<void> {
    const { viewerId, since, upper } = window;
    const own = await this.store.ownMemberChanges(viewerId, since.roomEvents, upper.roomEvents);
    const inJoined = await this.store.memberChanges(
      [...window.joinedRoomIds],
      since.roomEvents,
      upper.roomEvents,
    );
    // The viewer's own changes come from the device list stream, not from their joins.
    const addOther = (userId: string) => userId !== viewerId && changed.add(userId);
    const ownJoins = latestPerRoom(own, (m) => m.membership === 'join');
    if (ownJoins.length > 0) {
      const joinedNow = new Set(window.joinedRoomIds);
      for (const roomId of ownJoins) {
        if (joinedNow.has(roomId)) (await this.store.joinedMembers(roomId)).forEach(addOther);
      }
    }
    for (const roomId of latestPerRoom(own, (m) => LEFT.has(m.membership))) {
      for (const userId of await this.store.joinedMembers(roomId)) leftCandidates.add(userId);
    }
    for (const change of inJoined) {
      if (change.membership === 'join') addOther(change.userId);
      else if (LEFT.has(change.membership)) leftCandidates.add(change.userId);
    }
  }
}

/** The rooms whose latest change in the list satisfies the test. */
function latestPerRoom(changes: MemberChange[], test: (change: MemberChange) => boolean): string[] {
  const latest = new Map<string, MemberChange>();
  for (const change of changes) latest.set(change.roomId, change);
  return [...latest.values()].filter(test).map((change) => change.roomId);
}

/** `device_lists` of incremental syncs. */
export class DeviceListProvider implements SyncStreamProvider {
  readonly name = 'deviceLists';
  readonly stream = 'deviceLists' as const;

  constructor(
    private readonly lists: DeviceLists,
    private readonly store: DeviceListStore,
  ) {}

  currentPosition(): Promise<number> {
    return this.store.maxPosition();
  }

  async contribute(context: StreamContext, parts: SyncResponseParts): Promise<boolean> {
    if (!context.since) return false;
    const delta = await this.lists.delta({
      viewerId: context.viewer.userId,
      since: context.since,
      upper: context.upper,
      joinedRoomIds: context.joinedRoomIds,
    });
    parts.top.device_lists = delta;
    return delta.changed.length > 0 || delta.left.length > 0;
  }
}
