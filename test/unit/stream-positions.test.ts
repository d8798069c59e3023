/** Stream positions with concurrent writers: readers never get past an unsettled position. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamPositions } from '../../src/storage/common/stream-positions.js';

/** A sequence like PostgreSQL's, answering after a turn of the event loop. */
function sequenceFrom(start: number) {
  let last = start;
  return async (count: number) => {
    await new Promise((resolve) => setImmediate(resolve));
    return Array.from({ length: count }, () => ++last);
  };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves once `condition` holds, checked after each turn of the event loop. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('stream positions', () => {
  it('starts where the stream stood and hands out ascending positions', async () => {
    const stream = new StreamPositions(41, sequenceFrom(41));
    assert.equal(stream.persistedUpTo(), 41);
    const got = await stream.run(3, async (positions) => positions);
    assert.deepEqual(got, [42, 43, 44]);
    assert.equal(stream.persistedUpTo(), 44);
  });

  it('holds readers below a lower position still committing, and its writer too', async () => {
    const stream = new StreamPositions(0, sequenceFrom(0));
    const slow = deferred();
    const order: string[] = [];
    const first = stream.run(1, async ([position]) => {
      await slow.promise;
      order.push(`first committed ${position}`);
    });
    const second = stream.run(1, async ([position]) => {
      order.push(`second committed ${position}`);
    });
    const secondDone = second.then(() => order.push('second answered'));
    // The second write committed, but position 1 has not: readers stay at 0. (Waiting for
    // the commit itself, not a fixed time: on a loaded machine 20 ms was sometimes too few.)
    await until(() => order.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(order, ['second committed 2']);
    assert.equal(stream.persistedUpTo(), 0);
    slow.resolve();
    await Promise.all([first, secondDone]);
    assert.deepEqual(order, ['second committed 2', 'first committed 1', 'second answered']);
    assert.equal(stream.persistedUpTo(), 2);
  });

  it('a failed write leaves a gap that does not hold the stream back', async () => {
    const stream = new StreamPositions(0, sequenceFrom(0));
    const failing = stream.run(1, async () => {
      throw new Error('rolled back');
    });
    const ok = stream.run(2, async (positions) => positions);
    await assert.rejects(failing, /rolled back/);
    assert.deepEqual(await ok, [2, 3]);
    assert.equal(stream.persistedUpTo(), 3);
  });

  it('a failed allocation fails its write only', async () => {
    let calls = 0;
    const inner = sequenceFrom(0);
    const stream = new StreamPositions(0, async (count) => {
      if (++calls === 1) throw new Error('connection lost');
      return inner(count);
    });
    await assert.rejects(
      stream.run(1, async () => 'never'),
      /connection lost/,
    );
    assert.deepEqual(await stream.run(1, async (positions) => positions), [1]);
  });

  it('refuses a source that goes backwards', async () => {
    const stream = new StreamPositions(10, async () => [5]);
    await assert.rejects(
      stream.run(1, async () => {}),
      /out of order/,
    );
    assert.equal(stream.persistedUpTo(), 10);
  });

  it('many concurrent writers: every answer comes after all lower positions settled', async () => {
    const stream = new StreamPositions(0, sequenceFrom(0));
    const settled = new Set<number>();
    const writes = Array.from({ length: 50 }, (_, i) =>
      stream
        .run(1, async ([position]) => {
          await new Promise((resolve) => setTimeout(resolve, (i * 7) % 13));
          settled.add(position!);
          return position!;
        })
        .then((position) => {
          for (let lower = 1; lower <= position; lower++) assert.ok(settled.has(lower));
          return position;
        }),
    );
    const positions = await Promise.all(writes);
    assert.equal(new Set(positions).size, 50);
    assert.equal(stream.persistedUpTo(), 50);
  });
});
