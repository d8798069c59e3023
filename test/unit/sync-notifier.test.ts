import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import { Notifier, type WaitOptions, type WaitResult } from '../../src/sync/notifier.js';
import { zeroPositions, type StreamPositions } from '../../src/sync/stream-token.js';

const LONG = 60_000;

/** A wait whose settlement can be inspected without awaiting it (a method, so TS does not narrow it). */
function track(promise: Promise<WaitResult>) {
  let result: WaitResult | undefined;
  void promise.then((settled) => (result = settled));
  return { settled: () => result };
}

function at(positions: Partial<StreamPositions>): StreamPositions {
  return { ...zeroPositions(), ...positions };
}

function waitFor(notifier: Notifier, options: Partial<WaitOptions> & { userId: string }) {
  return notifier.wait({ roomIds: [], since: zeroPositions(), timeoutMs: LONG, ...options });
}

/**
 * The notifier's timers are unref'd (a long-poll must not keep a server from
 * exiting), so a test awaiting only such a timer needs something to keep the
 * event loop alive, as the HTTP server does in production.
 */
async function keepingAlive<T>(promise: Promise<T>): Promise<T> {
  const guard = setInterval(() => {}, 1000);
  try {
    return await promise;
  } finally {
    clearInterval(guard);
  }
}

/**
 * Counts the timers the notifier leaves running: wraps the global timer
 * functions, which the notifier calls at call time.
 */
function timerTracker() {
  const live = new Set<unknown>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const patchedSet = ((callback: () => void, ms?: number) => {
    const timer = realSet(() => {
      live.delete(timer);
      callback();
    }, ms);
    live.add(timer);
    return timer;
  }) as typeof setTimeout;
  const patchedClear = ((timer: Parameters<typeof clearTimeout>[0]) => {
    live.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout;
  return {
    install() {
      globalThis.setTimeout = patchedSet;
      globalThis.clearTimeout = patchedClear;
    },
    restore() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
    get live() {
      return live.size;
    },
  };
}

describe('notifier', () => {
  const timers = timerTracker();
  let notifier: Notifier;

  beforeEach(() => {
    timers.install();
    notifier = new Notifier();
  });

  afterEach(() => {
    notifier.wakeAll();
    timers.restore();
  });

  it('wakes only the waiters of the room and of the users a change concerns', async () => {
    const inRoom = track(waitFor(notifier, { userId: '@a:x', roomIds: ['!r1:x'] }));
    const otherRoom = track(waitFor(notifier, { userId: '@b:x', roomIds: ['!r2:x'] }));
    const addressed = track(waitFor(notifier, { userId: '@c:x' }));
    assert.equal(notifier.waitingCount, 3);

    notifier.notify({ stream: 'roomEvents', position: 1, roomIds: ['!r1:x'] });
    await tick();
    assert.equal(inRoom.settled()?.reason, 'changed');
    assert.deepEqual(inRoom.settled()?.positions, at({ roomEvents: 1 }));
    assert.equal(otherRoom.settled(), undefined);
    assert.equal(addressed.settled(), undefined);

    notifier.notify({ stream: 'toDevice', position: 4, userIds: ['@c:x'] });
    await tick();
    assert.equal(addressed.settled()?.reason, 'changed');
    assert.deepEqual(addressed.settled()?.positions, at({ roomEvents: 1, toDevice: 4 }));
    assert.equal(otherRoom.settled(), undefined);
    assert.equal(notifier.waitingCount, 1);
  });

  it('wakes every waiter of a room in the same tick (fan-out)', async () => {
    const waits = Array.from({ length: 50 }, (_, i) =>
      track(waitFor(notifier, { userId: `@u${i}:x`, roomIds: ['!big:x'] })),
    );
    notifier.notify({ stream: 'roomEvents', position: 7, roomIds: ['!big:x'] });
    await tick();
    assert.ok(waits.every((wait) => wait.settled()?.reason === 'changed'));
    assert.equal(notifier.waitingCount, 0);
    assert.equal(notifier.indexedKeyCount, 0);
  });

  it('does not wake for a position the waiter has already read', async () => {
    const since = at({ typing: 10 });
    const wait = track(waitFor(notifier, { userId: '@a:x', roomIds: ['!r:x'], since }));
    notifier.notify({ stream: 'typing', position: 10, roomIds: ['!r:x'] });
    await tick();
    assert.equal(wait.settled(), undefined);
    notifier.notify({ stream: 'typing', position: 11, roomIds: ['!r:x'] });
    await tick();
    assert.equal(wait.settled()?.reason, 'changed');
  });

  it('loses no wake-up notified between the read and the wait', async () => {
    const upTo = notifier.currentPositions(); // taken before the (imagined) storage read
    notifier.notify({ stream: 'roomEvents', position: 3, roomIds: ['!r:x'] });
    notifier.notify({ stream: 'accountData', position: 2, userIds: ['@b:x'] });

    const viaRoom = await waitFor(notifier, { userId: '@a:x', roomIds: ['!r:x'], since: upTo });
    assert.equal(viaRoom.reason, 'changed');
    assert.deepEqual(viaRoom.positions, at({ roomEvents: 3, accountData: 2 }));
    const viaUser = await waitFor(notifier, { userId: '@b:x', since: upTo });
    assert.equal(viaUser.reason, 'changed');
    assert.equal(notifier.waitingCount, 0);

    // Someone the earlier changes did not concern waits, as does a reader already past them.
    const unconcerned = track(
      waitFor(notifier, { userId: '@c:x', roomIds: ['!q:x'], since: upTo }),
    );
    const upToDate = track(
      waitFor(notifier, { userId: '@a:x', roomIds: ['!r:x'], since: viaRoom.positions }),
    );
    await tick();
    assert.equal(unconcerned.settled(), undefined);
    assert.equal(upToDate.settled(), undefined);
    assert.equal(notifier.waitingCount, 2);
  });

  it('wakes a user who joins a room while waiting, through the membership change', async () => {
    const joiner = track(waitFor(notifier, { userId: '@j:x', roomIds: [] }));
    notifier.notify({
      stream: 'roomEvents',
      position: 5,
      roomIds: ['!new:x'],
      userIds: ['@j:x'],
    });
    await tick();
    assert.equal(joiner.settled()?.reason, 'changed');
  });

  it('returns the current positions on timeout, after the notified waiter', async () => {
    const order: string[] = [];
    const timedOut = waitFor(notifier, { userId: '@a:x', timeoutMs: 15 }).then((result) => {
      order.push('timeout');
      return result;
    });
    const woken = waitFor(notifier, { userId: '@b:x' }).then(() => order.push('woken'));
    notifier.notify({ stream: 'presence', position: 9, userIds: ['@b:x'] });
    const result = await keepingAlive(timedOut);
    await woken;
    assert.deepEqual(order, ['woken', 'timeout']);
    assert.equal(result.reason, 'timeout');
    assert.deepEqual(result.positions, at({ presence: 9 }));
    assert.equal(timers.live, 0);
  });

  it('returns at once for a zero or negative timeout', async () => {
    assert.equal((await waitFor(notifier, { userId: '@a:x', timeoutMs: 0 })).reason, 'timeout');
    assert.equal((await waitFor(notifier, { userId: '@a:x', timeoutMs: -5 })).reason, 'timeout');
    assert.equal(notifier.waitingCount, 0);
    assert.equal(timers.live, 0);
  });

  it('ends a wait when its request is aborted, and at once if it already was', async () => {
    const controller = new AbortController();
    const wait = waitFor(notifier, {
      userId: '@a:x',
      roomIds: ['!r:x'],
      signal: controller.signal,
    });
    assert.equal(getEventListeners(controller.signal, 'abort').length, 1);
    controller.abort();
    const result = await wait;
    assert.equal(result.reason, 'aborted');
    assert.equal(notifier.waitingCount, 0);
    assert.equal(notifier.indexedKeyCount, 0);
    assert.equal(timers.live, 0);

    const again = await waitFor(notifier, { userId: '@a:x', signal: controller.signal });
    assert.equal(again.reason, 'aborted');
    assert.equal(timers.live, 0);
  });

  it('leaves no timer, abort listener or index entry behind after a wake-up', async () => {
    const controller = new AbortController();
    const wait = waitFor(notifier, {
      userId: '@a:x',
      roomIds: ['!r1:x', '!r2:x'],
      signal: controller.signal,
    });
    assert.equal(timers.live, 1);
    assert.equal(notifier.indexedKeyCount, 3);
    notifier.notify({ stream: 'receipts', position: 1, roomIds: ['!r2:x'] });
    assert.equal((await wait).reason, 'changed');
    assert.equal(timers.live, 0);
    assert.equal(getEventListeners(controller.signal, 'abort').length, 0);
    assert.equal(notifier.indexedKeyCount, 0);
    controller.abort(); // too late to matter: must not throw or resolve twice
  });

  it('wakeAll releases every waiter', async () => {
    const waits = [waitFor(notifier, { userId: '@a:x' }), waitFor(notifier, { userId: '@b:x' })];
    notifier.wakeAll();
    const results = await Promise.all(waits);
    assert.deepEqual(
      results.map((result) => result.reason),
      ['changed', 'changed'],
    );
    assert.equal(timers.live, 0);
  });

  it('close answers every waiter aborted, and any later wait at once', async () => {
    const waits = [waitFor(notifier, { userId: '@a:x' }), waitFor(notifier, { userId: '@b:x' })];
    notifier.close();
    const results = await Promise.all(waits);
    assert.deepEqual(
      results.map((result) => result.reason),
      ['aborted', 'aborted'],
    );
    assert.equal((await waitFor(notifier, { userId: '@c:x' })).reason, 'aborted');
    assert.equal(timers.live, 0);
    assert.equal(notifier.waitingCount, 0);
  });

  it('starts from the positions storage had at start-up', () => {
    const initial = at({ roomEvents: 100, invites: 3 });
    assert.deepEqual(new Notifier({ initialPositions: initial }).currentPositions(), initial);
  });

  it('never moves a stream backwards and refuses an impossible position', () => {
    notifier.notify({ stream: 'roomEvents', position: 8 });
    notifier.notify({ stream: 'roomEvents', position: 6 });
    assert.equal(notifier.currentPositions().roomEvents, 8);
    assert.throws(() => notifier.notify({ stream: 'typing', position: -1 }), /typing/);
    assert.throws(() => notifier.notify({ stream: 'typing', position: 0.5 }), /typing/);
  });
});

describe('notifier memory bound', () => {
  it('keeps at most maxTrackedKeys users, and an evicted user still cannot miss a change', async () => {
    const notifier = new Notifier({ maxTrackedKeys: 2 });
    notifier.notify({ stream: 'toDevice', position: 1, userIds: ['@u1:x'] });
    notifier.notify({ stream: 'toDevice', position: 2, userIds: ['@u2:x'] });
    notifier.notify({ stream: 'toDevice', position: 3, userIds: ['@u3:x'] });
    assert.deepEqual(notifier.trackedKeyCount, { users: 2, rooms: 0 });

    // @u1 was evicted: its change is still seen, through the floor.
    const evicted = await notifier.wait({
      userId: '@u1:x',
      roomIds: [],
      since: zeroPositions(),
      timeoutMs: LONG,
    });
    assert.equal(evicted.reason, 'changed');

    // A reader already past the floor waits as usual.
    const controller = new AbortController();
    const pastFloor = track(
      notifier.wait({
        userId: '@never:x',
        roomIds: [],
        since: at({ toDevice: 1 }),
        timeoutMs: LONG,
        signal: controller.signal,
      }),
    );
    await tick();
    assert.equal(pastFloor.settled(), undefined);
    controller.abort();
    await tick();
    assert.equal(pastFloor.settled()?.reason, 'aborted');
  });
});
