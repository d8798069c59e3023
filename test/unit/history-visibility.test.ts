import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  filterVisibleEvents,
  historyVisibilityOf,
  isVisible,
  membershipOf,
  visibilityAfter,
  visibilityAt,
  type HistoryVisibility,
  type Membership,
  type VisibilityEvent,
  type VisibilityState,
} from '../../src/events/history-visibility.js';

const ME = '@me:x';
const OTHER = '@other:x';

const state = (
  historyVisibility: HistoryVisibility,
  membership: Membership | undefined,
): VisibilityState => ({ historyVisibility, membership });
const message = (body = 'hi'): VisibilityEvent => ({
  type: 'm.room.message',
  content: { msgtype: 'm.text', body },
});
const setVisibility = (value: string): VisibilityEvent => ({
  type: 'm.room.history_visibility',
  state_key: '',
  content: { history_visibility: value },
});
const member = (userId: string, membership: string): VisibilityEvent => ({
  type: 'm.room.member',
  state_key: userId,
  content: { membership },
});

const seesMessage = (at: VisibilityState, joinedLater = false) =>
  isVisible(message(), { userId: ME, joinedLater }, at);

describe('history visibility values', () => {
  it('reads the four values', () => {
    for (const value of ['world_readable', 'shared', 'invited', 'joined'] as const) {
      assert.equal(historyVisibilityOf({ history_visibility: value }), value);
    }
  });

  it('reads a missing or unknown value as shared', () => {
    assert.equal(historyVisibilityOf(undefined), 'shared');
    assert.equal(historyVisibilityOf({}), 'shared');
    assert.equal(historyVisibilityOf({ history_visibility: 'everyone' }), 'shared');
    assert.equal(historyVisibilityOf({ history_visibility: 7 }), 'shared');
  });

  it('reads an unknown membership as leave', () => {
    assert.equal(membershipOf({ membership: 'invite' }), 'invite');
    assert.equal(membershipOf({ membership: 'lurking' }), 'leave');
  });

  it('takes the state at an event from a state lookup', () => {
    const content = new Map<string, unknown>([
      ['m.room.history_visibility\u0000', { history_visibility: 'joined' }],
      [`m.room.member\u0000${ME}`, { membership: 'invite' }],
    ]);
    const lookup = (type: string, key: string) => content.get(`${type}\u0000${key}`);
    assert.deepEqual(visibilityAt(lookup, ME), state('joined', 'invite'));
    assert.deepEqual(visibilityAt(lookup, OTHER), state('joined', undefined));
    assert.deepEqual(
      visibilityAt(() => undefined, ME),
      state('shared', undefined),
    );
  });
});

describe('the rules, one event', () => {
  it('world_readable: anyone, even a user who never joined', () => {
    assert.equal(seesMessage(state('world_readable', undefined)), true);
    assert.equal(seesMessage(state('world_readable', 'ban')), true);
  });

  it('joined: only while joined', () => {
    assert.equal(seesMessage(state('joined', 'join')), true);
    assert.equal(seesMessage(state('joined', 'invite')), false);
    assert.equal(seesMessage(state('joined', 'leave'), true), false);
    assert.equal(seesMessage(state('joined', undefined), true), false);
  });

  it('invited: from the invite on, while invited or joined', () => {
    assert.equal(seesMessage(state('invited', 'invite')), true);
    assert.equal(seesMessage(state('invited', 'join')), true);
    assert.equal(seesMessage(state('invited', undefined), true), false);
    assert.equal(seesMessage(state('invited', 'leave'), true), false);
    assert.equal(seesMessage(state('invited', 'knock'), true), false);
  });

  it('shared: while joined', () => {
    assert.equal(seesMessage(state('shared', 'join')), true);
  });

  it('shared: before the join, when the user joined at some point after the event', () => {
    assert.equal(seesMessage(state('shared', undefined), true), true);
    assert.equal(seesMessage(state('shared', 'leave'), true), true);
    assert.equal(seesMessage(state('shared', 'invite'), true), true);
  });

  it('shared: nothing for a user who did not join after the event', () => {
    assert.equal(seesMessage(state('shared', undefined), false), false);
    assert.equal(seesMessage(state('shared', 'invite'), false), false);
    assert.equal(seesMessage(state('shared', 'leave'), false), false);
  });

  it('a user who never joined sees only world_readable events', () => {
    for (const visibility of ['shared', 'invited', 'joined'] as const) {
      assert.equal(seesMessage(state(visibility, undefined)), false, visibility);
    }
    assert.equal(seesMessage(state('world_readable', undefined)), true);
  });
});

describe('the special cases', () => {
  const viewer = { userId: ME, joinedLater: false };

  it('a history visibility event is visible when the rule after it allows', () => {
    const before = state('joined', undefined);
    assert.equal(isVisible(setVisibility('world_readable'), viewer, before), true);
  });

  it('a history visibility event is visible when the rule before it allows', () => {
    const before = state('world_readable', undefined);
    assert.equal(isVisible(setVisibility('joined'), viewer, before), true);
  });

  it('a history visibility event is hidden when neither rule allows', () => {
    const before = state('joined', 'leave');
    assert.equal(isVisible(setVisibility('invited'), viewer, before), false);
    assert.equal(isVisible(setVisibility('shared'), viewer, before), false);
  });

  it('a history visibility event with a non-empty state key changes nothing', () => {
    const odd = { ...setVisibility('world_readable'), state_key: 'x' };
    assert.equal(isVisible(odd, viewer, state('joined', undefined)), false);
    assert.deepEqual(visibilityAfter(odd, ME, state('joined', 'join')), state('joined', 'join'));
  });

  it("the user's own join is visible, even under joined", () => {
    assert.equal(isVisible(member(ME, 'join'), viewer, state('joined', undefined)), true);
    assert.equal(isVisible(member(ME, 'join'), viewer, state('joined', 'invite')), true);
  });

  it("the user's own leave or ban from join is visible, even under joined", () => {
    assert.equal(isVisible(member(ME, 'leave'), viewer, state('joined', 'join')), true);
    assert.equal(isVisible(member(ME, 'ban'), viewer, state('joined', 'join')), true);
  });

  it("the user's own invite is visible under invited (membership after it)", () => {
    assert.equal(isVisible(member(ME, 'invite'), viewer, state('invited', undefined)), true);
  });

  it("the user's own invite is hidden under joined (neither before nor after allows)", () => {
    assert.equal(isVisible(member(ME, 'invite'), viewer, state('joined', undefined)), false);
  });

  it("the user's own leave ending an invite or a knock is visible (as Synapse)", () => {
    assert.equal(isVisible(member(ME, 'leave'), viewer, state('joined', 'invite')), true);
    assert.equal(isVisible(member(ME, 'leave'), viewer, state('joined', 'knock')), true);
  });

  it("the user's own ban after leaving is hidden under joined", () => {
    assert.equal(isVisible(member(ME, 'ban'), viewer, state('joined', 'leave')), false);
  });

  it("someone else's member events follow the ordinary rules", () => {
    assert.equal(isVisible(member(OTHER, 'join'), viewer, state('joined', undefined)), false);
    assert.equal(isVisible(member(OTHER, 'leave'), viewer, state('joined', 'join')), true);
  });

  it('a message typed m.room.member without a state key is no membership change', () => {
    const fake = { type: 'm.room.member', content: { membership: 'join' } };
    assert.equal(isVisible(fake, viewer, state('joined', undefined)), false);
    assert.deepEqual(
      visibilityAfter(fake, ME, state('joined', undefined)),
      state('joined', undefined),
    );
  });
});

describe('filtering a list in stream order', () => {
  it('a join under joined reveals only what follows it', () => {
    const events = [message('a'), member(ME, 'join'), message('b')];
    const visible = filterVisibleEvents(
      events,
      { userId: ME, joinedLater: true },
      state('joined', undefined),
    );
    assert.deepEqual(visible, [events[1], events[2]]);
  });

  it('a join inside the list reveals the shared history before it', () => {
    const events = [message('a'), member(ME, 'join'), message('b')];
    const visible = filterVisibleEvents(
      events,
      { userId: ME, joinedLater: false },
      state('shared', undefined),
    );
    assert.deepEqual(visible, events);
  });

  it('shared history after a leave stays hidden unless the user joined later', () => {
    const events = [message('a'), member(ME, 'leave'), message('b')];
    const start = state('shared', 'join');
    const notBack = filterVisibleEvents(events, { userId: ME, joinedLater: false }, start);
    assert.deepEqual(notBack, [events[0], events[1]]);
    const cameBack = filterVisibleEvents(events, { userId: ME, joinedLater: true }, start);
    assert.deepEqual(cameBack, events);
  });

  it('a user who joined, then left, keeps the shared history from before their join', () => {
    const events = [
      message('a'),
      member(ME, 'join'),
      message('b'),
      member(ME, 'leave'),
      message('c'),
    ];
    const visible = filterVisibleEvents(
      events,
      { userId: ME, joinedLater: false },
      state('shared', undefined),
    );
    assert.deepEqual(visible, events.slice(0, 4));
  });

  it('a history visibility change in the list applies to the events after it', () => {
    const events = [message('a'), setVisibility('joined'), message('b'), setVisibility('shared')];
    const visible = filterVisibleEvents(
      events,
      { userId: ME, joinedLater: false },
      state('world_readable', undefined),
    );
    // `a` under world_readable; the change is visible by its rule before; `b` under
    // joined is not; the change back is hidden too (neither joined nor shared allows).
    assert.deepEqual(visible, [events[0], events[1]]);
  });

  it('invited: an invite in the list reveals what follows it', () => {
    const events = [
      message('a'),
      member(ME, 'invite'),
      message('b'),
      member(ME, 'leave'),
      message('c'),
    ];
    const visible = filterVisibleEvents(
      events,
      { userId: ME, joinedLater: false },
      state('invited', undefined),
    );
    assert.deepEqual(visible, [events[1], events[2], events[3]]);
  });

  it('a never-joined user sees the world_readable stretch only', () => {
    const events = [
      message('a'),
      setVisibility('world_readable'),
      message('b'),
      setVisibility('shared'),
      message('c'),
    ];
    const visible = filterVisibleEvents(
      events,
      { userId: ME, joinedLater: false },
      state('shared', undefined),
    );
    assert.deepEqual(visible, [events[1], events[2], events[3]]);
  });

  it('takes items of any shape through an accessor', () => {
    const records = [
      { id: 1, pdu: message('a') },
      { id: 2, pdu: member(ME, 'join') },
      { id: 3, pdu: message('b') },
    ];
    const visible = filterVisibleEvents(
      records,
      { userId: ME, joinedLater: true },
      state('joined', 'leave'),
      (record) => record.pdu,
    );
    assert.deepEqual(
      visible.map((r) => r.id),
      [2, 3],
    );
  });

  it('an empty list stays empty', () => {
    assert.deepEqual(
      filterVisibleEvents([], { userId: ME, joinedLater: true }, state('shared', 'join')),
      [],
    );
  });
});
