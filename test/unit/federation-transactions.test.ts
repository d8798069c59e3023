/** The /send body, the retrieval parameters, and a transaction answered once per (origin, txnId). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  parseBackfillQuery,
  parseMissingEventsBody,
} from '../../src/federation/retrieval-rules.js';
import {
  TransactionReceiver,
  type EduReceiver,
} from '../../src/federation/transaction-receiver.js';
import { parseTransactionBody, type Edu } from '../../src/federation/transaction-rules.js';

function refusal(run: () => unknown): { status: number; errcode: string } {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof MatrixError);
    return { status: err.status, errcode: err.errcode };
  }
  assert.fail('expected a refusal');
}

const body = (extra: Record<string, unknown> = {}) => ({
  origin: 'remote.example',
  origin_server_ts: 1,
  pdus: [],
  ...extra,
});

describe('transaction body', () => {
  it('reads origin, origin_server_ts, pdus and edus', () => {
    const edu = {
      edu_type: 'm.typing',
      content: { room_id: '!r:x', user_id: '@u:x', typing: true },
    };
    const parsed = parseTransactionBody(body({ pdus: [{ a: 1 }], edus: [edu] }), 'remote.example');
    assert.deepEqual(parsed, {
      origin: 'remote.example',
      originServerTs: 1,
      pdus: [{ a: 1 }],
      edus: [edu],
    });
  });

  it('refuses an origin other than the signing server', () => {
    assert.deepEqual(
      refusal(() => parseTransactionBody(body(), 'other.example')),
      {
        status: 403,
        errcode: 'M_FORBIDDEN',
      },
    );
  });

  it('refuses missing or ill-typed fields', () => {
    const missing = (key: string) => {
      const copy: Record<string, unknown> = body();
      delete copy[key];
      return refusal(() => parseTransactionBody(copy, 'remote.example'));
    };
    assert.equal(missing('origin').errcode, 'M_MISSING_PARAM');
    assert.equal(missing('origin_server_ts').errcode, 'M_MISSING_PARAM');
    assert.equal(missing('pdus').errcode, 'M_MISSING_PARAM');
    assert.equal(
      refusal(() => parseTransactionBody(body({ pdus: {} }), 'remote.example')).errcode,
      'M_BAD_JSON',
    );
    assert.equal(refusal(() => parseTransactionBody([], 'remote.example')).errcode, 'M_NOT_JSON');
  });

  it('refuses more than 50 PDUs or 100 EDUs with 400 M_BAD_JSON', () => {
    const pdus = (n: number) => Array.from({ length: n }, () => ({}));
    assert.equal(parseTransactionBody(body({ pdus: pdus(50) }), 'remote.example').pdus.length, 50);
    assert.deepEqual(
      refusal(() => parseTransactionBody(body({ pdus: pdus(51) }), 'remote.example')),
      {
        status: 400,
        errcode: 'M_BAD_JSON',
      },
    );
    const edus = Array.from({ length: 101 }, () => ({ edu_type: 'm.typing', content: {} }));
    assert.equal(
      refusal(() => parseTransactionBody(body({ edus }), 'remote.example')).errcode,
      'M_BAD_JSON',
    );
  });

  it('skips malformed EDUs rather than failing the transaction', () => {
    const edus = [
      { edu_type: 'm.presence', content: {} },
      { edu_type: 5 },
      'x',
      { edu_type: 'a', content: [] },
    ];
    assert.equal(parseTransactionBody(body({ edus }), 'remote.example').edus.length, 1);
  });
});

describe('retrieval parameters', () => {
  it('get_missing_events: the event lists required, limit 10 and min_depth 0 by default', () => {
    assert.deepEqual(parseMissingEventsBody({ earliest_events: ['$a'], latest_events: ['$b'] }), {
      earliest: ['$a'],
      latest: ['$b'],
      limit: 10,
      minDepth: 0,
    });
    assert.equal(
      refusal(() => parseMissingEventsBody({ latest_events: [] })).errcode,
      'M_MISSING_PARAM',
    );
    assert.equal(
      refusal(() => parseMissingEventsBody({ earliest_events: [], latest_events: [], limit: 'x' }))
        .errcode,
      'M_BAD_JSON',
    );
  });

  it('backfill: v once or repeated, limit required', () => {
    assert.deepEqual(parseBackfillQuery({ v: '$a', limit: '5' }), { from: ['$a'], limit: 5 });
    assert.deepEqual(parseBackfillQuery({ v: ['$a', '$b'], limit: '0' }), {
      from: ['$a', '$b'],
      limit: 0,
    });
    assert.equal(refusal(() => parseBackfillQuery({ limit: '5' })).errcode, 'M_MISSING_PARAM');
    assert.equal(refusal(() => parseBackfillQuery({ v: '$a' })).errcode, 'M_MISSING_PARAM');
    assert.equal(
      refusal(() => parseBackfillQuery({ v: '$a', limit: '-1' })).errcode,
      'M_INVALID_PARAM',
    );
  });
});

describe('transaction receiver', () => {
  function receiver(options: { fail?: boolean; edus?: EduReceiver } = {}) {
    const calls: unknown[][] = [];
    let now = 0;
    const errors: unknown[] = [];
    const events = {
      async receivePdus(_origin: string, pdus: readonly unknown[]) {
        calls.push([...pdus]);
        if (options.fail && calls.length === 1) throw new Error('storage down');
        return { $e: {} };
      },
    };
    const service = new TransactionReceiver(
      events,
      options.edus,
      (err) => errors.push(err),
      () => now,
    );
    return { service, calls, errors, advance: (ms: number) => (now += ms) };
  }
  const txn = (pdus: unknown[] = [{}]) => ({
    origin: 'remote.example',
    originServerTs: 1,
    pdus,
    edus: [] as Edu[],
  });

  it('answers a repeated transaction with the first answer, without processing it again', async () => {
    const { service, calls } = receiver();
    const [first, second] = await Promise.all([
      service.receive('t1', txn()),
      service.receive('t1', txn()),
    ]);
    assert.deepEqual(first, { pdus: { $e: {} } });
    assert.equal(second, first);
    assert.deepEqual(await service.receive('t1', txn()), first);
    assert.equal(calls.length, 1);
    await service.receive('t2', txn());
    assert.equal(calls.length, 2);
  });

  it('keeps answers for a bounded time', async () => {
    const { service, calls, advance } = receiver();
    await service.receive('t1', txn());
    advance(31 * 60_000);
    await service.receive('t1', txn());
    assert.equal(calls.length, 2);
  });

  it('does not keep a failed attempt: the retry is processed', async () => {
    const { service, calls } = receiver({ fail: true });
    await assert.rejects(service.receive('t1', txn()));
    assert.deepEqual(await service.receive('t1', txn()), { pdus: { $e: {} } });
    assert.equal(calls.length, 2);
  });

  it('hands EDUs on; an EDU failure is logged, not the answer', async () => {
    const got: Edu[][] = [];
    const edus: EduReceiver = {
      async receive(_origin, list) {
        got.push(list);
        throw new Error('typing failed');
      },
    };
    const { service, errors } = receiver({ edus });
    const edu = { edu_type: 'm.typing', content: {} };
    const answer = await service.receive('t1', { ...txn([]), edus: [edu] });
    assert.deepEqual(answer, { pdus: { $e: {} } });
    assert.deepEqual(got, [[edu]]);
    assert.equal(errors.length, 1);
  });
});
