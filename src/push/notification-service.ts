/**
 * Push rule evaluation on the write path, and the notifications it produces:
 * every committed room event is evaluated against the rules of each joined
 * local member but the sender (and of an invited local user for their
 * invite); notifying results are stored with their thread, and counted as
 * unread until the user's read position passes them.
 *
 * Cheap for the sender: RoomService.onCommitted only appends the batch to a
 * queue; one worker evaluates queued events in stream order and stores each
 * run of them in one transaction together with "evaluated up to" (the
 * `push_progress` row). A crash between an event's commit and its evaluation
 * loses nothing: at start the worker resumes after that position. /sync waits
 * (briefly) for the worker to reach the position it reads up to, so the counts
 * it sends match the timeline it sends.
 *
 * Sending an event moves the sender's read position in its thread to it (as
 * Synapse does), so users never count their own messages nor what came before
 * them. Read receipts move it too: the receipts service calls `markRead`.
 */
import type { HiddenSenders } from '../sync/room-history.js';
import { serverNameOf } from '../events/auth/ids.js';
import type { Logger } from 'pino';
import type {
  EventRecord,
  NotificationPageQuery,
  NotificationRecord,
  NotificationStore,
  ReadMove,
  UnreadCounts,
} from '../storage/storage.js';
import type { ThreadReader } from '../storage/readers.js';
import { threadOfContent } from '../relations/thread-of.js';
import {
  bindRuleset,
  compileRuleset,
  matchFor,
  rulesetKey,
  type BoundRuleset,
  type CompiledRuleset,
} from './compiled-rules.js';
import type { PushEvent } from './evaluator.js';
import type { PushRuleService } from './push-rule-service.js';
import type { PushRuleset } from '../domain/push-rules.js';
import {
  applyStateEvent,
  RoomPushStates,
  senderLevels,
  type RoomPushState,
  type RoomPushStatesStorage,
} from './room-push-state.js';

export const MAIN_THREAD = 'main';

/** How long a /sync waits for evaluation to reach its position before sending what is stored. */
const MAX_EVALUATION_WAIT_MS = 2_000;
/** Events read per step when resuming after a restart. */
const RESUME_PAGE = 200;
/** Users whose compiled rulesets are kept; beyond it the cache starts over. */
const MAX_CACHED_RULESETS = 50_000;
/** Distinct compiled rulesets kept (most users share the one for unchanged defaults). */
const MAX_COMPILED_RULESETS = 5_000;

export interface RoomUnreadCounts {
  /** Every thread together. */
  total: UnreadCounts;
  /** The main timeline only. */
  main: UnreadCounts;
  /** Thread roots with unread notifications (the main timeline left out). */
  threads: Map<string, UnreadCounts>;
}

/** Told of the users who got new notifications, once stored (pushers send them). */
export type NotifiedListener = (userIds: ReadonlySet<string>) => void;

interface Waiter {
  position: number;
  resolve: () => void;
}

const ZERO: UnreadCounts = { notificationCount: 0, highlightCount: 0 };

function add(a: UnreadCounts, b: UnreadCounts): UnreadCounts {
  return {
    notificationCount: a.notificationCount + b.notificationCount,
    highlightCount: a.highlightCount + b.highlightCount,
  };
}

/** The event as push rules see it: its client-format fields. */
function pushEventOf(record: EventRecord): PushEvent {
  const { pdu } = record;
  const event: Record<string, unknown> = {
    event_id: record.eventId,
    room_id: record.roomId,
    type: pdu.type,
    sender: pdu.sender,
    content: pdu.content,
    origin_server_ts: pdu.origin_server_ts,
  };
  if (pdu.state_key !== undefined) event.state_key = pdu.state_key;
  return event as PushEvent;
}

/** The notifications, and what evaluating reads: events, rooms' state, profiles, threads. */
export interface NotificationServiceStorage extends RoomPushStatesStorage {
  notifications: NotificationStore;
  relations: ThreadReader;
}

export class NotificationService {
  /** Each user's compiled rules, until they change them. */
  private readonly rulesets = new Map<string, CompiledRuleset>();
  /** Compiled rulesets by `rulesetKey`: users with equal rules share one. */
  private readonly compiled = new Map<string, CompiledRuleset>();
  private rulesGeneration = 0;
  private readonly rooms: RoomPushStates;
  private readonly listeners: NotifiedListener[] = [];
  private pending: EventRecord[] = [];
  private waiters: Waiter[] = [];
  /** Every event at or before this position has been evaluated (or skipped after an error). */
  private evaluated = 0;
  private started: Promise<void> = Promise.resolve();
  private draining: Promise<void> | undefined;
  private closed = false;

  /** Committed events still waiting for push rule evaluation (a metrics gauge). */
  get queuedEventCount(): number {
    return this.pending.length;
  }

  constructor(
    private readonly storage: NotificationServiceStorage,
    private readonly pushRules: PushRuleService,
    /** The senders a user ignores (m.ignored_user_list): they notify nobody who ignores them. */
    private readonly ignoredBy: HiddenSenders,
    private readonly serverName: string,
    private readonly logger: Logger,
    /** False: nothing is evaluated (config `push.enabled`); counts stay zero. */
    private readonly enabled = true,
  ) {
    this.rooms = new RoomPushStates(storage);
  }

  /** The user's push rules changed (`pushRulesChanged`): compiled again when next needed. */
  rulesChanged(userId: string): void {
    this.rulesets.delete(userId);
    this.rulesGeneration++;
  }

  /** Resumes after the stored progress; events committed meanwhile wait in the queue. */
  start(): void {
    if (!this.enabled) return;
    this.started = this.resume().catch((err: unknown) => {
      this.logger.error({ err }, 'push: resuming evaluation failed');
    });
    this.kick();
  }

  /**
   * Each committed batch (`eventsCommitted`): only a queue append on the commit
   * path, so evaluation runs after the senders are answered.
   */
  enqueue(records: readonly EventRecord[]): void {
    if (!this.enabled || this.closed) return;
    this.pending.push(...records);
    this.kick();
  }

  onNotified(listener: NotifiedListener): void {
    this.listeners.push(listener);
  }

  /** Resolves once every event up to `position` is evaluated (or after a bounded wait). */
  whenEvaluated(position: number): Promise<void> {
    if (!this.enabled || this.closed || this.evaluated >= position) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, MAX_EVALUATION_WAIT_MS);
      this.waiters.push({
        position,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /**
   * The user has read the room up to this position: in one thread ('main' or a
   * root's ID) or, without threadId, in all of them. Never moves back. The
   * receipts service calls it for `m.read` and `m.read.private`.
   */
  async markRead(userId: string, roomId: string, upToStreamOrdering: number, threadId?: string) {
    const move: ReadMove = { userId, roomId, streamOrdering: upToStreamOrdering };
    if (threadId !== undefined) move.threadId = threadId;
    await this.storage.notifications.markRead(move);
  }

  /** The user's unread counts in a room, for notifying events up to `upTo`. */
  async unreadCounts(userId: string, roomId: string, upTo: number): Promise<RoomUnreadCounts> {
    const byThread = await this.storage.notifications.unreadByThread(userId, roomId, upTo);
    let total = ZERO;
    for (const counts of byThread.values()) total = add(total, counts);
    const threads = new Map([...byThread].filter(([threadId]) => threadId !== MAIN_THREAD));
    return { total, main: byThread.get(MAIN_THREAD) ?? ZERO, threads };
  }

  /** Rooms whose counts for the user changed through events in (after, upTo]. */
  roomsChanged(userId: string, after: number, upTo: number): Promise<string[]> {
    return this.storage.notifications.roomsChanged(userId, after, upTo);
  }

  /**
   * `GET /notifications`: the user's notifications before `before` (newest
   * first) with their events; events since deleted are left out.
   */
  async page(query: NotificationPageQuery) {
    const records = await this.storage.notifications.page(query);
    const events = await this.storage.rooms.getEvents(records.map((r) => r.eventId));
    const byId = new Map(events.map((event) => [event.eventId, event]));
    const items = records.flatMap((record) => {
      const event = byId.get(record.eventId);
      return event ? [{ record, event }] : [];
    });
    const full = records.length === query.limit;
    return { items, nextBefore: full ? records[records.length - 1]!.streamOrdering : undefined };
  }

  /** Waits for the evaluation in progress (shutdown, before storage closes). */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = [];
    await this.started;
    await this.draining;
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }

  private async resume(): Promise<void> {
    const store = this.storage.notifications;
    this.evaluated = Math.max(this.evaluated, await store.evaluatedUpTo());
    const upTo = await this.storage.rooms.maxStreamOrdering();
    while (!this.closed) {
      const ids = await store.eventIdsAfter(this.evaluated, upTo, RESUME_PAGE);
      if (ids.length === 0) return;
      const records = await this.storage.rooms.getEvents(ids);
      await this.evaluateRun(records.sort((a, b) => a.streamOrdering - b.streamOrdering));
    }
  }

  private kick(): void {
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending.length > 0 && !this.closed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    await this.started;
    while (this.pending.length > 0 && !this.closed) {
      // Everything queued so far is one run: one transaction for several batches under load.
      const run = this.pending.filter((record) => record.streamOrdering > this.evaluated);
      this.pending = [];
      if (run.length > 0) await this.evaluateRun(run);
    }
  }

  /** Evaluates events (in stream order) and stores the outcome with the new progress. */
  private async evaluateRun(records: readonly EventRecord[]): Promise<void> {
    const last = records[records.length - 1]!.streamOrdering;
    try {
      const notifications: NotificationRecord[] = [];
      const readMoves: ReadMove[] = [];
      for (const record of records) {
        const state = await this.rooms.before(record);
        await this.evaluateEvent(record, state, notifications, readMoves);
        applyStateEvent(state, record);
      }
      await this.storage.notifications.recordEvaluated({
        notifications,
        readMoves,
        evaluatedUpTo: last,
      });
      this.tell(new Set(notifications.map((n) => n.userId)));
    } catch (err) {
      // The stored progress stays behind: a restart evaluates these events again.
      this.logger.error({ err }, 'push: evaluating events failed');
      this.rooms.clear();
    }
    this.advanceTo(last);
  }

  private async evaluateEvent(
    record: EventRecord,
    state: RoomPushState,
    notifications: NotificationRecord[],
    readMoves: ReadMove[],
  ): Promise<void> {
    const { sender } = record.pdu;
    const threadId = await this.threadOf(record);
    const event = pushEventOf(record);
    const room = { roomMemberCount: state.joined.size, ...senderLevels(state, sender) };
    // What does not depend on the member is decided once per distinct ruleset.
    const bound = new Map<CompiledRuleset, BoundRuleset>();
    const ts = Date.now();
    const recipients = this.recipientsOf(record, state);
    // Looked up together, and each ruleset loaded only once: every await in the loop below
    // would let all the /sync requests woken by this event (which wait for its counts) take
    // a turn first, so evaluating a big room's event would end after all of them.
    const ignored = await Promise.all(recipients.map((userId) => this.ignoredBy(userId)));
    await Promise.all(
      recipients.filter((u) => !this.rulesets.has(u)).map((u) => this.loadRuleset(u)),
    );
    for (const [i, userId] of recipients.entries()) {
      // The spec's ignoring of users: nothing from an ignored sender reaches the user.
      if (ignored[i]!.has(sender)) continue;
      const rules = this.rulesets.get(userId) ?? (await this.loadRuleset(userId));
      let rulesForEvent = bound.get(rules);
      if (!rulesForEvent) {
        rulesForEvent = bindRuleset(rules, event, room);
        bound.set(rules, rulesForEvent);
      }
      const match = matchFor(rulesForEvent, { userId, displayName: state.joined.get(userId) });
      if (!match?.effect.notify) continue;
      const { effect } = match;
      notifications.push({
        userId,
        roomId: record.roomId,
        eventId: record.eventId,
        streamOrdering: record.streamOrdering,
        threadId,
        notify: true,
        highlight: effect.highlight,
        actions: match.actions,
        ts,
      });
    }
    if (this.isLocal(sender)) {
      readMoves.push({
        userId: sender,
        roomId: record.roomId,
        threadId,
        streamOrdering: record.streamOrdering,
      });
    }
  }

  /**
   * Joined local members but the sender ("MUST NOT notify … for events that the
   * user has sent themselves"), and a local invitee, who is not joined yet.
   */
  private recipientsOf(record: EventRecord, state: RoomPushState): string[] {
    const { sender, type, state_key: stateKey, content } = record.pdu;
    const users = [...state.joined.keys()];
    const invitee = type === 'm.room.member' && content.membership === 'invite' ? stateKey : null;
    if (invitee && !state.joined.has(invitee)) users.push(invitee);
    return users.filter((userId) => userId !== sender && this.isLocal(userId));
  }

  /**
   * 'main' or the thread root's ID. The relations module's lookup (an `m.thread`
   * relation names its root; any other relation inherits its parent's thread).
   */
  private threadOf(record: EventRecord): Promise<string> {
    return threadOfContent(this.storage.relations, record.pdu.content);
  }

  private async loadRuleset(userId: string): Promise<CompiledRuleset> {
    const generation = this.rulesGeneration;
    const rules = this.compiledFor(userId, await this.pushRules.ruleset(userId));
    // A change while reading would be lost if this read were cached.
    if (generation !== this.rulesGeneration) return rules;
    if (this.rulesets.size >= MAX_CACHED_RULESETS) this.rulesets.clear();
    this.rulesets.set(userId, rules);
    return rules;
  }

  /** The compilation of these rules, shared with every user whose rules are equal. */
  private compiledFor(userId: string, rules: PushRuleset): CompiledRuleset {
    const key = rulesetKey(rules, userId);
    let compiled = this.compiled.get(key);
    if (!compiled) {
      if (this.compiled.size >= MAX_COMPILED_RULESETS) this.compiled.clear();
      compiled = compileRuleset(rules, userId);
      this.compiled.set(key, compiled);
    }
    return compiled;
  }

  private isLocal(userId: string): boolean {
    return serverNameOf(userId) === this.serverName;
  }

  private advanceTo(position: number): void {
    this.evaluated = Math.max(this.evaluated, position);
    const ready = this.waiters.filter((w) => w.position <= this.evaluated);
    this.waiters = this.waiters.filter((w) => w.position > this.evaluated);
    for (const waiter of ready) waiter.resolve();
  }

  private tell(userIds: ReadonlySet<string>): void {
    if (userIds.size === 0) return;
    for (const listener of this.listeners) listener(userIds);
  }
}
