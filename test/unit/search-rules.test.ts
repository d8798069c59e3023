/**
 * The pure rules of server-side search: body parsing (defaults, refusals),
 * folding and terms, the index's query expressions (no user syntax gets
 * through), what an event indexes, highlights, and next_batch tokens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MatrixError } from '../../src/protocol/errors.js';
import {
  decodePageToken,
  encodePageToken,
  foldForSearch,
  highlightsFor,
  parseSearchBody,
  SEARCH_KEYS,
  searchTerms,
} from '../../src/search/search-rules.js';
import { searchableText } from '../../src/events/search-fields.js';
import { ftsMatchExpression } from '../../src/storage/sqlite/search-store.js';
import { tsQueryText } from '../../src/storage/postgres/search-store.js';

const body = (criteria: Record<string, unknown>) => ({
  search_categories: { room_events: { search_term: 'hello', ...criteria } },
});
const refused = (value: unknown, errcode: string) =>
  assert.throws(
    () => parseSearchBody(value),
    (err: unknown) => err instanceof MatrixError && err.errcode === errcode,
  );

describe('search body', () => {
  it('fills in the spec’s defaults', () => {
    const parsed = parseSearchBody(body({}))!;
    assert.deepEqual(parsed.terms, ['hello']);
    assert.deepEqual(parsed.keys, SEARCH_KEYS);
    assert.equal(parsed.orderBy, 'rank');
    assert.equal(parsed.limit, 10);
    assert.equal(parsed.context, undefined);
    assert.equal(parsed.includeState, false);
    assert.deepEqual(parsed.groupBy, []);
  });

  it('reads every field', () => {
    const parsed = parseSearchBody(
      body({
        keys: ['content.name', 'content.name'],
        order_by: 'recent',
        filter: { limit: 500, rooms: ['!r:x'] },
        event_context: { before_limit: 2, include_profile: true },
        include_state: true,
        groupings: { group_by: [{ key: 'sender' }, { key: 'room_id' }] },
      }),
    )!;
    assert.deepEqual(parsed.keys, ['content.name']);
    assert.equal(parsed.orderBy, 'recent');
    assert.equal(parsed.limit, 100, 'capped');
    assert.deepEqual(parsed.filter?.rooms, ['!r:x']);
    assert.deepEqual(parsed.context, { beforeLimit: 2, afterLimit: 5, includeProfile: true });
    assert.equal(parsed.includeState, true);
    assert.deepEqual(parsed.groupBy, ['sender', 'room_id']);
  });

  it('reads a filter limit of 0 as 1', () => {
    assert.equal(parseSearchBody(body({ filter: { limit: 0 } }))!.limit, 1);
  });

  it('answers undefined for unknown categories only', () => {
    assert.equal(parseSearchBody({ search_categories: { other: {} } }), undefined);
  });

  it('refuses bad bodies with the spec’s codes', () => {
    refused(undefined, 'M_NOT_JSON');
    refused([], 'M_BAD_JSON');
    refused({}, 'M_MISSING_PARAM');
    refused({ search_categories: { room_events: {} } }, 'M_MISSING_PARAM');
    refused(body({ search_term: 1 }), 'M_BAD_JSON');
    refused(body({ keys: ['content.url'] }), 'M_BAD_JSON');
    refused(body({ order_by: 'new' }), 'M_BAD_JSON');
    refused(body({ event_context: { after_limit: 1.5 } }), 'M_BAD_JSON');
    refused(body({ groupings: { group_by: [{}] } }), 'M_BAD_JSON');
    refused(body({ groupings: { group_by: 'room_id' } }), 'M_BAD_JSON');
    refused(body({ include_state: 'yes' }), 'M_BAD_JSON');
  });
});

describe('search terms and expressions', () => {
  it('folds case and accents', () => {
    assert.equal(foldForSearch('Crème BRÛLÉE Ångström'), 'creme brulee angstrom');
  });

  it('keeps letters and digits only, each word once', () => {
    assert.deepEqual(searchTerms('"foo" OR bar* foo NEAR(x) {body}: -1; DROP'), [
      'foo',
      'or',
      'bar',
      'near',
      'x',
      'body',
      '1',
      'drop',
    ]);
    assert.deepEqual(searchTerms('*** "" \'\''), []);
    assert.deepEqual(searchTerms('日本語 текст'), ['日本語', 'текст']);
  });

  it('quotes every term for FTS5, the last as a prefix, in the columns of the keys', () => {
    assert.equal(
      ftsMatchExpression(['a', 'b'], ['content.body', 'content.topic']),
      '{body topic} : ("a" AND "b"*)',
    );
  });

  it('quotes every term for tsquery with the keys’ weights, the last as a prefix', () => {
    assert.equal(tsQueryText(['a', 'b'], ['content.body', 'content.name']), "'a':AB & 'b':*AB");
  });
});

describe('searchable text', () => {
  it('indexes the body, the name and the topic, strings only', () => {
    assert.deepEqual(searchableText('m.room.message', { body: 'hi' }), {
      key: 'content.body',
      text: 'hi',
    });
    assert.deepEqual(searchableText('m.room.name', { name: 'n' }), {
      key: 'content.name',
      text: 'n',
    });
    assert.deepEqual(searchableText('m.room.topic', { topic: 't' }), {
      key: 'content.topic',
      text: 't',
    });
    assert.equal(searchableText('m.room.message', { body: 5 }), undefined);
    assert.equal(searchableText('m.room.message', { body: '  ' }), undefined);
    assert.equal(searchableText('m.room.encrypted', { ciphertext: 'x' }), undefined);
    assert.equal(searchableText('m.room.name', { body: 'x' }), undefined);
  });
});

describe('highlights', () => {
  it('lists the words of the texts that matched, the last term as a prefix', () => {
    assert.deepEqual(highlightsFor(['cafe', 'cr'], ['Café Crème', 'crêpe CAFE cream', 'other']), [
      'cafe',
      'cream',
      'creme',
      'crepe',
    ]);
    assert.deepEqual(highlightsFor([], ['anything']), []);
  });
});

describe('next_batch tokens', () => {
  it('round-trips, with and without a group', () => {
    for (const token of [
      { order: 'recent' as const, position: 42 },
      { order: 'rank' as const, position: 10, group: { key: 'room_id' as const, value: '!r:x' } },
    ]) {
      assert.deepEqual(decodePageToken(encodePageToken(token), token.order), token);
    }
  });

  it('refuses anything else as M_INVALID_PARAM', () => {
    const bad = (text: string) =>
      assert.throws(
        () => decodePageToken(text, 'recent'),
        (err: unknown) => err instanceof MatrixError && err.errcode === 'M_INVALID_PARAM',
        text,
      );
    bad('not base64 json');
    bad(encodePageToken({ order: 'rank', position: 1 }));
    bad(Buffer.from('["recent",-1]').toString('base64url'));
    bad(Buffer.from('["recent",1.5]').toString('base64url'));
    bad(Buffer.from('["recent",1,"type","x"]').toString('base64url'));
    bad(Buffer.from('{}').toString('base64url'));
  });
});
