import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UiaChallenge, UiaEngine } from '../../src/auth/uia.js';
import { errors } from '../../src/protocol/errors.js';
import type { Storage } from '../../src/storage/storage.js';
import { openSqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';

describe('UIA engine', () => {
  let dir: string;
  let storage: Storage;
  let engine: UiaEngine;
  const verified: string[] = [];
  /** UIA around an operation that does nothing: resolves once the request is authorised. */
  const authorised = (auth: unknown, req: typeof request) =>
    engine.authorise(auth, req, async () => {});
  const request = {
    operation: 'POST /test',
    userId: '@u:localhost',
    flows: [['a', 'b'], ['c']],
    ip: '127.0.0.1',
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'weft-uia-'));
    storage = openSqliteStorage(path.join(dir, 'weft.db'));
    engine = new UiaEngine(storage, 60_000, {
      a: async () => void verified.push('a'),
      b: async (auth) => {
        verified.push('b');
        if (auth.secret !== 'yes') throw errors.forbidden('wrong secret');
      },
      c: async () => void verified.push('c'),
    });
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function challengeOf(promise: Promise<unknown>): Promise<Record<string, unknown>> {
    try {
      await promise;
    } catch (err) {
      assert.ok(err instanceof UiaChallenge, String(err));
      assert.equal(err.status, 401);
      return err.body();
    }
    assert.fail('expected a UIA challenge');
  }

  it('walks a two-stage flow in order and never redoes a completed stage', async () => {
    const first = await challengeOf(authorised(undefined, request));
    assert.deepEqual(first.flows, [{ stages: ['a', 'b'] }, { stages: ['c'] }]);
    const session = first.session;

    const outOfOrder = await challengeOf(
      authorised({ type: 'b', session, secret: 'yes' }, request),
    );
    assert.equal(outOfOrder.errcode, 'M_UNKNOWN');
    assert.deepEqual(outOfOrder.completed, []);

    const afterA = await challengeOf(authorised({ type: 'a', session }, request));
    assert.deepEqual(afterA.completed, ['a']);
    assert.equal(afterA.errcode, undefined);

    verified.length = 0;
    const redoA = await challengeOf(authorised({ type: 'a', session }, request));
    assert.deepEqual(redoA.completed, ['a']);
    assert.deepEqual(verified, [], 'a completed stage is not verified again');

    const failedB = await challengeOf(authorised({ type: 'b', session, secret: 'no' }, request));
    assert.equal(failedB.errcode, 'M_FORBIDDEN');
    assert.deepEqual(failedB.completed, ['a']);

    await authorised({ type: 'b', session, secret: 'yes' }, request);
  });

  it('uses a session up: it never authorises a second request', async () => {
    const { session } = await challengeOf(authorised(undefined, request));
    await authorised({ type: 'c', session }, request);
    const again = await challengeOf(authorised({ session }, request));
    assert.notEqual(again.session, session);
    assert.deepEqual(again.completed, []);
  });

  it('keeps a session whose operation failed, and uses it up once the operation succeeds', async () => {
    const { session } = await challengeOf(authorised(undefined, request));
    await assert.rejects(
      engine.authorise({ type: 'c', session }, request, async () => {
        throw errors.weakPassword('too weak');
      }),
      { errcode: 'M_WEAK_PASSWORD' },
    );
    const result = await engine.authorise({ session }, request, async () => 'done');
    assert.equal(result, 'done');
    const again = await challengeOf(engine.authorise({ session }, request, async () => 'twice'));
    assert.notEqual(again.session, session);
    assert.equal(again.errcode, 'M_UNKNOWN');
  });

  it('lets only one operation at a time run on a session', async () => {
    const { session } = await challengeOf(authorised(undefined, request));
    let started: () => void = () => {};
    const operationStarted = new Promise<void>((resolve) => (started = resolve));
    let finish: () => void = () => {};
    const running = engine.authorise({ type: 'c', session }, request, async () => {
      started();
      await new Promise<void>((resolve) => (finish = resolve));
      return 'first';
    });
    await operationStarted;
    const second = await challengeOf(engine.authorise({ session }, request, async () => 'second'));
    assert.notEqual(second.session, session);
    assert.equal(second.errcode, 'M_UNKNOWN');
    finish();
    assert.equal(await running, 'first');
  });

  it("remembers a request's parameters for the session's later requests, this request's winning", async () => {
    const remember = (values: Record<string, string | undefined>) => ({
      ...request,
      remember: values,
    });
    const { session } = await challengeOf(
      authorised(undefined, remember({ password: 'early', other: 'kept' })),
    );
    await challengeOf(authorised({ type: 'a', session }, remember({ password: undefined })));
    const seen = await engine.authorise(
      { type: 'b', session, secret: 'yes' },
      remember({ password: 'late' }),
      async ({ remembered }) => remembered,
    );
    assert.deepEqual(seen, { password: 'late', other: 'kept' });
  });

  it('finishes with auth {session} alone after an out-of-band completion (fallback page)', async () => {
    const { session } = await challengeOf(authorised(undefined, request));
    await engine.completeOutOfBand(String(session), 'c', {}, '127.0.0.1');
    await authorised({ session }, request);
  });

  it('refuses an out-of-band stage that no offered flow expects next', async () => {
    const { session } = await challengeOf(authorised(undefined, request));
    await assert.rejects(
      engine.completeOutOfBand(String(session), 'b', { secret: 'yes' }, '127.0.0.1'),
      {
        errcode: 'M_FORBIDDEN',
      },
    );
    await assert.rejects(engine.completeOutOfBand(String(session), 'zzz', {}, '127.0.0.1'), {
      errcode: 'M_FORBIDDEN',
    });
    // The session is not stuck: the flow can still be completed in order.
    await engine.completeOutOfBand(String(session), 'a', {}, '127.0.0.1');
    await authorised({ type: 'b', session, secret: 'yes' }, request);
  });

  it('refuses a session started for another operation or user', async () => {
    const { session } = await challengeOf(authorised(undefined, request));
    await assert.rejects(
      authorised({ type: 'c', session }, { ...request, operation: 'POST /other' }),
      {
        errcode: 'M_FORBIDDEN',
      },
    );
    await assert.rejects(
      authorised({ type: 'c', session }, { ...request, userId: '@v:localhost' }),
      {
        errcode: 'M_FORBIDDEN',
      },
    );
  });

  it('refuses a malformed auth dict with 400', async () => {
    await assert.rejects(authorised('nope', request), { errcode: 'M_BAD_JSON' });
    await assert.rejects(authorised({ type: 5 }, request), { errcode: 'M_BAD_JSON' });
  });
});
