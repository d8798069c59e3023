/**
 * History visibility (spec: client-server API, "Room History Visibility",
 * Server behaviour): which room events a user may see. Pure: the caller gives
 * plain event data and the state at the events, so every read path (/sync,
 * /messages, /context, /event, initialSync) shares these rules.
 *
 * The spec's algorithm, judged by the state of the room *at that event*:
 *   1. `history_visibility` was `world_readable` → allow;
 *   2. the user's membership was `join` → allow;
 *   3. `history_visibility` was `shared` and the user joined the room at any
 *      point after the event was sent → allow;
 *   4. the user's membership was `invite` and `history_visibility` was
 *      `invited` → allow;
 *   5. otherwise deny.
 * A missing or not-understood `history_visibility` means `shared`. An
 * `m.room.history_visibility` event is visible if the rule before *or* after it
 * allows; so is the user's own `m.room.member` event with the membership before
 * or after it. A user who never joined therefore sees only `world_readable`
 * history, and one who left sees nothing sent after they left (unless
 * `world_readable`, or `shared` and they joined again later).
 *
 * Rule 3 is the spec's "joined at any point after", not Synapse's "currently
 * joined": a user who joined and then left keeps the `shared` history from
 * before their join. The caller says whether the user joined after the events
 * it asks about (`Viewer.joinedLater`); "currently joined" is a safe
 * approximation of it (it can only hide more).
 */

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';
export type Membership = 'join' | 'invite' | 'knock' | 'leave' | 'ban';

/** The parts of an event the rules read: a PDU or a client-format event both fit. */
export interface VisibilityEvent {
  type: string;
  /** Present on state events only. */
  state_key?: string;
  content?: unknown;
}

/** What the rules need of the room state at (just before) an event. */
export interface VisibilityState {
  historyVisibility: HistoryVisibility;
  /** The user's membership; undefined when they never had one. */
  membership: Membership | undefined;
}

export interface Viewer {
  userId: string;
  /**
   * Whether the user joined the room at some point after the event (for a list:
   * after its last event; joins inside the list are seen by the list filter).
   * Usually: their current membership is `join`.
   */
  joinedLater: boolean;
}

const HISTORY_VISIBILITY = 'm.room.history_visibility';
const MEMBER = 'm.room.member';
const VISIBILITIES: ReadonlySet<string> = new Set([
  'world_readable',
  'shared',
  'invited',
  'joined',
]);
const MEMBERSHIPS: ReadonlySet<string> = new Set(['join', 'invite', 'knock', 'leave', 'ban']);

/** The `history_visibility` of an event's content; missing or unknown is `shared` (spec). */
export function historyVisibilityOf(content: unknown): HistoryVisibility {
  const value = fieldOf(content, 'history_visibility');
  return typeof value === 'string' && VISIBILITIES.has(value)
    ? (value as HistoryVisibility)
    : 'shared';
}

/** The `membership` of a member event's content; an unknown value is `leave` (as Synapse). */
export function membershipOf(content: unknown): Membership {
  const value = fieldOf(content, 'membership');
  return typeof value === 'string' && MEMBERSHIPS.has(value) ? (value as Membership) : 'leave';
}

/**
 * The visibility state from the room state at an event, given a lookup of a
 * state event's content by (type, state_key): one lookup for the history
 * visibility, one for the user's membership.
 */
export function visibilityAt(
  stateContent: (type: string, stateKey: string) => unknown,
  userId: string,
): VisibilityState {
  const member = stateContent(MEMBER, userId);
  return {
    historyVisibility: historyVisibilityOf(stateContent(HISTORY_VISIBILITY, '')),
    membership: member === undefined || member === null ? undefined : membershipOf(member),
  };
}

/** The visibility state after the event: only the two state events the rules read move it. */
export function visibilityAfter(
  event: VisibilityEvent,
  userId: string,
  before: VisibilityState,
): VisibilityState {
  if (isHistoryVisibilityEvent(event)) {
    return { ...before, historyVisibility: historyVisibilityOf(event.content) };
  }
  if (isOwnMemberEvent(event, userId)) {
    return { ...before, membership: membershipOf(event.content) };
  }
  return before;
}

/** Whether the viewer may see the event, given the state just before it. */
export function isVisible(
  event: VisibilityEvent,
  viewer: Viewer,
  before: VisibilityState,
): boolean {
  if (allows(before, viewer.joinedLater)) return true;
  if (isHistoryVisibilityEvent(event) || isOwnMemberEvent(event, viewer.userId)) {
    // Spec: visible if the rule before *or after* the event allows.
    if (allows(visibilityAfter(event, viewer.userId, before), viewer.joinedLater)) return true;
  }
  return isOwnInviteOrKnockEnding(event, viewer.userId, before);
}

/**
 * The events of one room the viewer may see, in the order given, which must be
 * stream order (oldest first). `before` is the state before the first event;
 * the list's own history-visibility and viewer member events move it on, so a
 * whole page costs the caller one state lookup. `viewer.joinedLater` is about
 * the time after the last event; a join inside the list counts for the events
 * before it (rule 3).
 */
export function filterVisibleEvents<E extends VisibilityEvent>(
  events: readonly E[],
  viewer: Viewer,
  before: VisibilityState,
): E[];
export function filterVisibleEvents<E>(
  items: readonly E[],
  viewer: Viewer,
  before: VisibilityState,
  eventOf: (item: E) => VisibilityEvent,
): E[];
export function filterVisibleEvents<E>(
  items: readonly E[],
  viewer: Viewer,
  before: VisibilityState,
  eventOf: (item: E) => VisibilityEvent = (item) => item as VisibilityEvent,
): E[] {
  const states = statesBeforeEach(items, viewer.userId, before, eventOf);
  const visible = new Array<boolean>(items.length);
  // Backwards, so that "joined at any point after the event" is known at each event.
  let joinedLater = viewer.joinedLater;
  for (let i = items.length - 1; i >= 0; i--) {
    const event = eventOf(items[i]!);
    const state = states[i]!;
    visible[i] = isVisible(event, { userId: viewer.userId, joinedLater }, state);
    joinedLater ||=
      state.membership === 'join' ||
      visibilityAfter(event, viewer.userId, state).membership === 'join';
  }
  return items.filter((_, i) => visible[i]);
}

function statesBeforeEach<E>(
  items: readonly E[],
  userId: string,
  first: VisibilityState,
  eventOf: (item: E) => VisibilityEvent,
): VisibilityState[] {
  const states: VisibilityState[] = [];
  let state = first;
  for (const item of items) {
    states.push(state);
    state = visibilityAfter(eventOf(item), userId, state);
  }
  return states;
}

/** Rules 1–5 of the spec's algorithm for one visibility state. */
function allows(state: VisibilityState, joinedLater: boolean): boolean {
  switch (state.historyVisibility) {
    case 'world_readable':
      return true;
    case 'shared':
      return state.membership === 'join' || joinedLater;
    case 'invited':
      return state.membership === 'join' || state.membership === 'invite';
    case 'joined':
      return state.membership === 'join';
  }
}

/**
 * Beyond the spec, as Synapse: the user's own leave that ends an invite (a
 * rejected or withdrawn invite) or a knock is always visible to them, so that
 * /sync can show the room leaving the invite or knock section whatever the
 * history visibility. Synapse does it for invites; knocks are the same case.
 */
function isOwnInviteOrKnockEnding(
  event: VisibilityEvent,
  userId: string,
  before: VisibilityState,
): boolean {
  return (
    isOwnMemberEvent(event, userId) &&
    (before.membership === 'invite' || before.membership === 'knock') &&
    membershipOf(event.content) === 'leave'
  );
}

function isHistoryVisibilityEvent(event: VisibilityEvent): boolean {
  return event.type === HISTORY_VISIBILITY && event.state_key === '';
}

function isOwnMemberEvent(event: VisibilityEvent, userId: string): boolean {
  return event.type === MEMBER && event.state_key === userId;
}

function fieldOf(content: unknown, key: string): unknown {
  return typeof content === 'object' && content !== null
    ? (content as Record<string, unknown>)[key]
    : undefined;
}
