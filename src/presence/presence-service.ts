/**
 * Presence: what users set (PUT /presence, `set_presence` on /sync), what their
 * activity says (sending events, typing, receipts), and the idle timeouts that
 * take them to `unavailable` and `offline`; delivered in /sync's `presence` to
 * the user and those sharing a joined room with them.
 *
 * Stored per user (the presence stream's positions are the store's); users who
 * are not offline are also tracked in memory, where activity and syncs only
 * move timestamps. A change is written when the state or status message
 * changes, or when the last activity moved by more than CURRENTLY_ACTIVE_MS
 * (so `last_active_ago` stays about right without a write per request). A
 * sweep applies the timeouts. At start, users stored as not offline are
 * tracked as seen just now: they go offline unless they come back.
 *
 * Only users with a presence (set, or ever online through activity or a sync:
 * a stored record) are told of, as Synapse does: a member who never had one
 * is not an `offline` event in every room-mate's sync. An initial or
 * full-state sync leaves offline users out too (Synapse's
 * `include_offline=False`); an incremental one tells of a change to offline.
 */
import { errors } from '../protocol/errors.js';
import { KeyedLock } from '../util/keyed-lock.js';
import type { MembershipReader, ProfileReader, UserReader } from '../storage/readers.js';
import type { PresenceRecord, PresenceStore } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import {
  CURRENTLY_ACTIVE_MS,
  countsAsActivity,
  presenceContent,
  stateAfterTimeouts,
  type LivePresence,
  type PresenceState,
  type PresenceTimeouts,
} from './presence-rules.js';

export interface PresenceConfig extends PresenceTimeouts {
  enabled: boolean;
}

/** The sweep runs this often at most, and at least a few times per timeout. */
const MAX_SWEEP_INTERVAL_MS = 5_000;
const MIN_SWEEP_INTERVAL_MS = 20;

/** Presence, and of others: whether a user exists, their joined rooms, their profile. */
export interface PresenceServiceStorage {
  presence: PresenceStore;
  users: UserReader;
  rooms: MembershipReader;
  profiles: ProfileReader;
}

export class PresenceService {
  private readonly live = new Map<string, LivePresence>();
  private readonly writes = new KeyedLock();
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly storage: PresenceServiceStorage,
    private readonly notifier: Notifier,
    readonly config: PresenceConfig,
    /** Where failures of the background work (activity, sweeps) go: nobody awaits them. */
    private readonly reportError: (err: unknown) => void = () => {},
  ) {}

  get enabled(): boolean {
    return this.config.enabled;
  }

  /** Starts tracking the users stored as not offline, and the sweep. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    const now = Date.now();
    for (const record of await this.storage.presence.notOffline()) {
      this.live.set(record.userId, { ...liveOf(record), lastSeenTs: now, syncing: 0 });
    }
    const interval = Math.min(this.config.idle_timeout_ms, this.config.offline_timeout_ms) / 4;
    this.sweeper = setInterval(
      () => {
        if (!this.closed) this.sweep().catch(this.reportError);
      },
      Math.min(Math.max(interval, MIN_SWEEP_INTERVAL_MS), MAX_SWEEP_INTERVAL_MS),
    );
    this.sweeper.unref();
  }

  close(): void {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** GET /presence/{userId}/status: oneself, or a user sharing a room (403 otherwise, as Synapse). */
  async status(viewerId: string, userId: string): Promise<Record<string, unknown>> {
    if (!(await this.storage.users.getUser(userId))) throw errors.notFound('Unknown user');
    if (viewerId !== userId && !(await this.storage.presence.shareARoom(viewerId, userId))) {
      throw errors.forbidden('You cannot see the presence of this user');
    }
    const record = this.enabled ? await this.storage.presence.get(userId) : undefined;
    const view = record ? this.viewOf(record) : { state: 'offline', lastActiveTs: 0 };
    const content = presenceContent(view, Date.now());
    // Never active: no last_active_ago to tell.
    if (!record) delete content.last_active_ago;
    return content;
  }

  /** PUT /presence/{userId}/status. */
  async set(userId: string, state: PresenceState, statusMsg: string | undefined): Promise<void> {
    if (!this.enabled) return;
    const now = Date.now();
    await this.update(userId, (live) => ({
      ...live,
      state,
      statusMsg,
      lastSeenTs: now,
      ...(state === 'online' ? { lastActiveTs: now } : {}),
    }));
  }

  /** Events committed: their senders were active, unless the events are member events (countsAsActivity). */
  eventsSent(events: readonly { pdu: { type: string; sender: string } }[]): void {
    const senders = new Set<string>();
    for (const { pdu } of events) if (countsAsActivity(pdu.type)) senders.add(pdu.sender);
    for (const sender of senders) this.activity(sender);
  }

  /** The user did something (sent an event, typed, read): online, active now. */
  activity(userId: string): void {
    if (!this.enabled || this.closed) return;
    const now = Date.now();
    this.update(userId, (live) => ({
      ...live,
      state: 'online',
      lastActiveTs: now,
      lastSeenTs: now,
    })).catch(this.reportError);
  }

  /**
   * A /sync starts: with `set_presence` (default online) the user is seen; an
   * offline user comes online, `unavailable` sets it, `offline` leaves presence
   * alone (as the spec says). Call the returned function when the sync ends.
   */
  async syncing(userId: string, setPresence: string | undefined): Promise<() => void> {
    if (!this.enabled || setPresence === 'offline') return () => {};
    const now = Date.now();
    await this.update(userId, (live) => ({
      ...live,
      syncing: live.syncing + 1,
      lastSeenTs: now,
      ...(setPresence === 'unavailable' ? { state: 'unavailable' as const } : {}),
      ...(setPresence !== 'unavailable' && live.state === 'offline'
        ? { state: 'online' as const, lastActiveTs: now }
        : {}),
    }));
    return () => {
      const live = this.live.get(userId);
      if (live)
        this.live.set(userId, { ...live, syncing: live.syncing - 1, lastSeenTs: Date.now() });
    };
  }

  /**
   * The profile changed: room-mates get the user's presence again, with the
   * new name. A user with no presence gets none from it (no `offline` record).
   */
  async profileChanged(userId: string): Promise<void> {
    if (!this.enabled) return;
    await this.writes.run(userId, async () => {
      if (!this.live.has(userId) && !(await this.storage.presence.get(userId))) return;
      await this.apply(userId, (live) => live, true);
    });
  }

  /**
   * Changes in (after, upTo] among the user's room-mates, as `m.presence`
   * events; without `includeOffline` (an initial sync), only users not offline.
   */
  async eventsFor(
    userId: string,
    after: number,
    upTo: number,
    { includeOffline }: { includeOffline: boolean },
  ) {
    const records = (await this.storage.presence.changesAmongRoomMates(userId, after, upTo)).filter(
      (record) => includeOffline || record.state !== 'offline',
    );
    const now = Date.now();
    return Promise.all(
      records.map(async (record) => ({
        type: 'm.presence',
        sender: record.userId,
        content: presenceContent(await this.withProfile(record), now),
      })),
    );
  }

  currentPosition(): Promise<number> {
    return this.storage.presence.maxStreamId();
  }

  /** Applies a change to the user's live presence; writes and notifies when it matters. */
  private update(
    userId: string,
    change: (live: LivePresence) => LivePresence,
    force = false,
  ): Promise<void> {
    return this.writes.run(userId, () => this.apply(userId, change, force));
  }

  /** `update` for a caller holding the user's lock. */
  private async apply(
    userId: string,
    change: (live: LivePresence) => LivePresence,
    force: boolean,
  ): Promise<void> {
    const before = this.live.get(userId) ?? (await this.loaded(userId));
    const after = change(before);
    if (after.state === 'offline' && after.syncing <= 0) this.live.delete(userId);
    else this.live.set(userId, after);
    if (force || mustWrite(before, after)) await this.write(userId, after);
  }

  private async loaded(userId: string): Promise<LivePresence> {
    const record = await this.storage.presence.get(userId);
    const base = record ? liveOf(record) : { state: 'offline' as const, lastActiveTs: 0 };
    return { ...base, lastSeenTs: 0, syncing: 0 };
  }

  private async write(userId: string, live: LivePresence): Promise<void> {
    const position = await this.storage.presence.put({
      userId,
      state: live.state,
      ...(live.statusMsg === undefined ? {} : { statusMsg: live.statusMsg }),
      lastActiveTs: live.lastActiveTs,
    });
    const roomIds = await this.storage.rooms.roomsWithMembership(userId, 'join');
    this.notifier.notify({ stream: 'presence', position, userIds: [userId], roomIds });
  }

  /** The timeouts: idle users become unavailable, silent ones offline. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const [userId, live] of this.live) {
      const state = stateAfterTimeouts(live, now, this.config);
      if (state !== live.state) await this.update(userId, (current) => ({ ...current, state }));
    }
  }

  private viewOf(record: PresenceRecord) {
    const live = this.live.get(record.userId);
    const lastActiveTs = Math.max(record.lastActiveTs, live?.lastActiveTs ?? 0);
    return { ...record, lastActiveTs };
  }

  private async withProfile(record: PresenceRecord) {
    const profile = await this.storage.profiles.getProfile(record.userId);
    return { ...this.viewOf(record), ...profile };
  }
}

function liveOf(record: PresenceRecord) {
  return {
    state: record.state as PresenceState,
    ...(record.statusMsg === undefined ? {} : { statusMsg: record.statusMsg }),
    lastActiveTs: record.lastActiveTs,
  };
}

function mustWrite(before: LivePresence, after: LivePresence): boolean {
  return (
    before.state !== after.state ||
    before.statusMsg !== after.statusMsg ||
    after.lastActiveTs - before.lastActiveTs > CURRENTLY_ACTIVE_MS
  );
}
