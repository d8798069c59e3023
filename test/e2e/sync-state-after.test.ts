/**
 * /sync with v1.16's `use_state_after` (MSC4222): the state up to the END of
 * each timeline, as `state_after` (and no `state`), on initial, incremental,
 * limited and left-room sections; without it, `state` as before.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite, type Session } from '../support/fixture.js';

interface StateEvent {
  type: string;
  state_key?: string;
  event_id: string;
  content: Record<string, unknown>;
}
interface Section {
  state?: { events: StateEvent[] };
  state_after?: { events: StateEvent[] };
  timeline: { events: StateEvent[]; limited: boolean };
}
interface Body {
  next_batch: string;
  rooms: { join: Record<string, Section>; leave: Record<string, Section> };
}

const STATE_AFTER = { use_state_after: 'true' };

describe('/sync use_state_after', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [alice, bob] = suite.users('alice', 'bob');
  let roomId: string;
  const setTopic = async (topic: string) => {
    const path = `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic`;
    const res = await api.put(path, { topic }, { token: alice.access_token });
    assert.equal(res.status, 200);
    return String(res.body.event_id);
  };
  const topicIn = (events: StateEvent[] | undefined) =>
    events?.find((event) => event.type === 'm.room.topic')?.content.topic;
  const sync = (who: Session, query: Record<string, string>) => suite.sync<Body>(who, query);

  before(async () => {
    roomId = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, roomId);
  });

  it('sends the whole state at the end of an initial sync’s timeline, and no state', async () => {
    await setTopic('first');
    const section = (await sync(bob, STATE_AFTER)).rooms.join[roomId]!;
    assert.equal(section.state, undefined);
    assert.equal(topicIn(section.state_after?.events), 'first');
    // The topic is also in the timeline: state_after is complete all the same.
    assert.equal(topicIn(section.timeline.events), 'first');
    const types = section.state_after!.events.map((event) => event.type);
    for (const type of ['m.room.create', 'm.room.power_levels', 'm.room.join_rules']) {
      assert.ok(types.includes(type), type);
    }
  });

  it('sends what changed since `since`, timeline events included', async () => {
    const start = await sync(bob, STATE_AFTER);
    await setTopic('second');
    await suite.send(alice, roomId, 'after the topic');
    const next = await sync(bob, { ...STATE_AFTER, since: start.next_batch });
    const section = next.rooms.join[roomId]!;
    assert.equal(section.state, undefined);
    assert.deepEqual(
      section.state_after!.events.map((event) => event.type),
      ['m.room.topic'],
    );
    assert.equal(topicIn(section.state_after!.events), 'second');
    // Without the parameter the same window sends the topic in the timeline only.
    const old = (await sync(bob, { since: start.next_batch })).rooms.join[roomId]!;
    assert.equal(old.state_after, undefined);
    assert.deepEqual(old.state?.events, []);
  });

  it('sends a change before a limited timeline’s start', async () => {
    const start = await sync(bob, STATE_AFTER);
    await setTopic('third');
    for (const text of ['one', 'two', 'three']) await suite.send(alice, roomId, text);
    const filter = JSON.stringify({ room: { timeline: { limit: 1 } } });
    const next = await sync(bob, { ...STATE_AFTER, since: start.next_batch, filter });
    const section = next.rooms.join[roomId]!;
    assert.equal(section.timeline.limited, true);
    assert.equal(topicIn(section.state_after!.events), 'third');
  });

  it('sends an empty state_after with other news, and a left room’s state at the leave', async () => {
    const start = await sync(bob, STATE_AFTER);
    await suite.send(alice, roomId, 'just a message');
    const quiet = (await sync(bob, { ...STATE_AFTER, since: start.next_batch })).rooms.join[
      roomId
    ]!;
    assert.deepEqual(quiet.state_after, { events: [] });
    const beforeLeave = await sync(bob, STATE_AFTER);
    await suite.leave(bob, roomId);
    const left = (await sync(bob, { ...STATE_AFTER, since: beforeLeave.next_batch })).rooms.leave[
      roomId
    ]!;
    assert.equal(left.state, undefined);
    const ownMember = left.state_after!.events.find(
      (event) => event.type === 'm.room.member' && event.state_key === bob.user_id,
    );
    assert.equal(ownMember?.content.membership, 'leave');
  });
});
