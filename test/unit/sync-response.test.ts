import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth-rules.js';
import type { Pdu } from '../../src/events/pdu.js';
import type { EventRecord, StateIds } from '../../src/storage/storage.js';
import {
  lazyLoadedState,
  namesTheRoom,
  roomsHaveChanges,
  stateBefore,
  stateDelta,
  strippedStateIds,
  withoutTimelineEvents,
} from '../../src/sync/sync-response.js';

function event(eventId: string, fields: Partial<Pdu>, replacesState?: string): EventRecord {
  const pdu = { type: 'm.room.message', sender: '@a:x', content: {}, ...fields } as Pdu;
  return {
    eventId,
    roomId: '!r',
    pdu,
    streamOrdering: 1,
    ...(replacesState ? { replacesState } : {}),
  };
}

const key = stateMapKey;
const state = (entries: [string, string, string][]): StateIds =>
  new Map(entries.map(([type, stateKey, id]) => [key(type, stateKey), id]));

describe('sync response rules', () => {
  it('steps the state back over a state event, and not over a message', () => {
    const after = state([
      ['m.room.name', '', '$name2'],
      ['m.room.topic', '', '$topic'],
    ]);
    const rename = event('$name2', { type: 'm.room.name', state_key: '' }, '$name1');
    assert.equal(stateBefore(rename, after).get(key('m.room.name', '')), '$name1');
    const firstTopic = event('$topic', { type: 'm.room.topic', state_key: '' });
    assert.equal(stateBefore(firstTopic, after).has(key('m.room.topic', '')), false);
    const message = event('$m', {});
    assert.equal(stateBefore(message, after), after);
    // A state event that did not win its entry (a rejected or outdated one) changes nothing.
    const loser = event('$other', { type: 'm.room.name', state_key: '' }, '$name0');
    assert.equal(stateBefore(loser, after).get(key('m.room.name', '')), '$name2');
  });

  it('gives the entries that changed between two states', () => {
    const from = state([
      ['m.room.name', '', '$a'],
      ['m.room.topic', '', '$t'],
    ]);
    const to = state([
      ['m.room.name', '', '$b'],
      ['m.room.topic', '', '$t'],
      ['m.room.member', '@b:x', '$join'],
    ]);
    assert.deepEqual([...stateDelta(from, to).values()].sort(), ['$b', '$join']);
  });

  it('lazy-loads the senders’ member events and keeps every other entry', () => {
    const full = state([
      ['m.room.create', '', '$create'],
      ['m.room.member', '@a:x', '$a'],
      ['m.room.member', '@b:x', '$b'],
      ['m.room.member', '@c:x', '$c'],
    ]);
    const timeline = [event('$m', { sender: '@b:x' })];
    const lazy = lazyLoadedState(full, timeline, ['@c:x']);
    assert.deepEqual([...lazy.values()].sort(), ['$b', '$c', '$create']);
  });

  it('lists the stripped state an invite shows, and leaves out what the timeline holds', () => {
    const full = state([
      ['m.room.create', '', '$create'],
      ['m.room.name', '', '$name'],
      ['m.room.power_levels', '', '$pl'],
    ]);
    assert.deepEqual(strippedStateIds(full), ['$create', '$name']);
    const rest = withoutTimelineEvents(full, [event('$name', { type: 'm.room.name' })]);
    assert.deepEqual([...rest.values()], ['$create', '$pl']);
  });

  it('tells a room named by its name or canonical alias from one that needs heroes', () => {
    const name = (content: Pdu['content']) =>
      event('$n', { type: 'm.room.name', state_key: '', content });
    const alias = (content: Pdu['content']) =>
      event('$a', { type: 'm.room.canonical_alias', state_key: '', content });
    assert.equal(namesTheRoom([]), false, 'unset');
    assert.equal(namesTheRoom([name({ name: 'Lounge' })]), true);
    assert.equal(namesTheRoom([alias({ alias: '#lounge:x' })]), true);
    assert.equal(namesTheRoom([name({ name: '' }), alias({ alt_aliases: ['#l:x'] })]), false);
    assert.equal(namesTheRoom([name({ name: 7 }), alias({ alias: '' })]), false, 'not a string');
    assert.equal(namesTheRoom([name({ name: '' }), alias({ alias: '#lounge:x' })]), true);
    const redacted = { ...name({ name: 'Lounge' }), redactedBy: '$r' };
    assert.equal(namesTheRoom([redacted]), false, 'redaction keeps no name');
  });

  it('tells an empty set of rooms from one with a change', () => {
    const empty = { join: {}, invite: {}, leave: {}, knock: {} };
    assert.equal(roomsHaveChanges(empty), false);
    assert.equal(roomsHaveChanges({ ...empty, leave: { '!r': {} } }), true);
  });
});
