/** The wiring primitives: the server event bus and the order of /sync providers. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orderProviders, type SyncStreamProvider } from '../../src/sync/sync-streams.js';
import { EventBus } from '../../src/util/event-bus.js';

interface TestEvents {
  ping: string;
  count: number;
}

describe('EventBus', () => {
  it('calls listeners of the emitted event only, in the order they subscribed', () => {
    const bus = new EventBus<TestEvents>(() => assert.fail('no listener throws'));
    const heard: string[] = [];
    bus.on('ping', (value) => heard.push(`first ${value}`));
    bus.on('count', (value) => heard.push(`count ${value}`));
    bus.on('ping', (value) => heard.push(`second ${value}`));
    bus.emit('ping', 'a');
    assert.deepEqual(heard, ['first a', 'second a']);
  });

  it('reports a throwing listener and still calls the others', () => {
    const reported: [unknown, string][] = [];
    const bus = new EventBus<TestEvents>((err, name) => reported.push([err, name]));
    const heard: number[] = [];
    const failure = new Error('listener failed');
    bus.on('count', () => {
      throw failure;
    });
    bus.on('count', (value) => heard.push(value));
    assert.doesNotThrow(() => bus.emit('count', 7));
    assert.deepEqual(heard, [7]);
    assert.deepEqual(reported, [[failure, 'count']]);
  });

  it('emitting an event nobody listens to does nothing', () => {
    const bus = new EventBus<TestEvents>(() => assert.fail('nothing to report'));
    assert.doesNotThrow(() => bus.emit('ping', 'nobody'));
  });
});

function provider(name: string, after?: string[]): SyncStreamProvider {
  return { name, ...(after ? { after } : {}), contribute: async () => false };
}

describe('orderProviders', () => {
  const names = (providers: SyncStreamProvider[]) => providers.map((p) => p.name);

  it('keeps the given order when nothing depends on anything', () => {
    const given = [provider('a'), provider('b'), provider('c')];
    assert.deepEqual(names(orderProviders(given)), ['a', 'b', 'c']);
  });

  it('puts a provider after those it names, whatever order they are given in', () => {
    const given = [provider('unread', ['receipts']), provider('typing'), provider('receipts')];
    assert.deepEqual(names(orderProviders(given)), ['receipts', 'unread', 'typing']);
  });

  it('refuses an unknown name and a cycle', () => {
    assert.throws(() => orderProviders([provider('a', ['missing'])]), /unknown missing/);
    assert.throws(
      () => orderProviders([provider('a', ['b']), provider('b', ['a'])]),
      /a cycle at a/,
    );
  });
});
