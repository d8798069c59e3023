import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalJson,
  canonicalJsonBytes,
  compareCodePoints,
  MAX_NESTING_DEPTH,
} from '../../src/events/canonical-json.js';
import { MatrixError } from '../../src/protocol/errors.js';

/** Asserts that encoding `value` is refused with 400 M_BAD_JSON. */
function assertBadJson(value: unknown): void {
  assert.throws(
    () => canonicalJson(value),
    (error: unknown) =>
      error instanceof MatrixError && error.status === 400 && error.errcode === 'M_BAD_JSON',
  );
}

function nestedArrays(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

describe('canonical JSON: the spec appendix examples', () => {
  // Each pair is the appendix's input (as parsed JSON text) and its expected output.
  const examples: [string, string][] = [
    ['{}', '{}'],
    ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
    ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
    ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
    [
      JSON.stringify({
        auth: {
          success: true,
          mxid: '@john.doe:example.com',
          profile: {
            display_name: 'John Doe',
            three_pids: [
              { medium: 'email', address: 'john.doe@example.org' },
              { medium: 'msisdn', address: '123456789' },
            ],
          },
        },
      }),
      '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":' +
        '[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},' +
        '"success":true}}',
    ],
    ['{"a": "日本語"}', '{"a":"日本語"}'],
    ['{"本": 2, "日": 1}', '{"日":1,"本":2}'],
    ['{"a": "\\u65E5"}', '{"a":"日"}'],
    ['{"a": null}', '{"a":null}'],
    ['{"a": -0, "b": 1e10}', '{"a":0,"b":10000000000}'],
  ];
  for (const [input, expected] of examples) {
    it(`encodes ${input.replace(/\s+/g, ' ').slice(0, 40)}`, () => {
      assert.equal(canonicalJson(JSON.parse(input)), expected);
    });
  }
});

describe('canonical JSON: strings', () => {
  it('uses the short escapes and lower-case \\u00XX for control characters only', () => {
    assert.equal(
      canonicalJson('"\\\b\f\n\r\t\u0000\u001f\u007f'),
      '"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\u007f"',
    );
  });

  it('writes non-ASCII, U+2028 and astral characters as raw UTF-8', () => {
    const bytes = canonicalJsonBytes('é\u2028😀');
    assert.deepEqual(bytes, Buffer.from('"é\u2028😀"', 'utf8'));
    assert.equal(bytes.length, 2 + 2 + 3 + 4);
  });

  it('refuses lone surrogates, which have no UTF-8 form, in values and keys', () => {
    assertBadJson('\ud800');
    assertBadJson({ ['a\udc00']: 1 });
    assert.equal(canonicalJson('\ud83d\ude00'), '"😀"');
  });
});

describe('canonical JSON: key order', () => {
  it('sorts by code point, not UTF-16 unit or locale', () => {
    // U+FF21 (BMP, above the surrogates) sorts before U+1F600 (astral) by code point,
    // but after it by UTF-16 code unit (0xFF21 > 0xD83D).
    assert.equal(canonicalJson({ '😀': 1, Ａ: 2 }), '{"Ａ":2,"😀":1}');
    // Upper case before lower case (code point), which a locale sort would not do.
    assert.equal(canonicalJson({ b: 1, B: 2, a: 3 }), '{"B":2,"a":3,"b":1}');
  });

  it('orders prefixes first and equal strings as equal', () => {
    assert.ok(compareCodePoints('ab', 'abc') < 0);
    assert.ok(compareCodePoints('abc', 'ab') > 0);
    assert.equal(compareCodePoints('日本', '日本'), 0);
  });

  it('keeps an own __proto__ key as a key', () => {
    assert.equal(canonicalJson(JSON.parse('{"__proto__":1,"a":2}')), '{"__proto__":1,"a":2}');
  });
});

describe('canonical JSON: numbers', () => {
  it('accepts the integer range bounds exactly', () => {
    assert.equal(
      canonicalJson([2 ** 53 - 1, -(2 ** 53) + 1]),
      '[9007199254740991,-9007199254740991]',
    );
  });

  it('refuses integers outside [-(2^53)+1, 2^53-1]', () => {
    assertBadJson(2 ** 53);
    assertBadJson(-(2 ** 53));
    assertBadJson({ a: 1e300 });
  });

  it('refuses floats, NaN and infinities', () => {
    assertBadJson(1.5);
    assertBadJson({ a: [0.1] });
    assertBadJson(Number.NaN);
    assertBadJson(Number.POSITIVE_INFINITY);
    assertBadJson(Number.NEGATIVE_INFINITY);
  });
});

describe('canonical JSON: non-JSON values', () => {
  it('refuses undefined, functions, symbols and bigints anywhere', () => {
    assertBadJson(undefined);
    assertBadJson({ a: undefined });
    assertBadJson([undefined]);
    assertBadJson({ f: () => 1 });
    assertBadJson(Symbol('s'));
    assertBadJson(1n);
  });

  it('refuses objects that are not plain JSON objects', () => {
    assertBadJson(new Date(0));
    assertBadJson(new Map());
    assertBadJson(Buffer.from('x'));
    assertBadJson({ a: new (class Thing {})() });
  });

  it('accepts objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as object, { b: 1, a: true });
    assert.equal(canonicalJson(bare), '{"a":true,"b":1}');
  });
});

describe('canonical JSON: nesting', () => {
  it(`encodes ${MAX_NESTING_DEPTH} nested levels`, () => {
    const encoded = canonicalJson(nestedArrays(MAX_NESTING_DEPTH));
    assert.equal(encoded, '['.repeat(MAX_NESTING_DEPTH) + ']'.repeat(MAX_NESTING_DEPTH));
  });

  it('refuses one level more, and 100,000 levels, without exhausting the stack', () => {
    assertBadJson(nestedArrays(MAX_NESTING_DEPTH + 1));
    assertBadJson(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)));
    assertBadJson(JSON.parse('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)));
  });

  it('refuses cycles', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assertBadJson(cyclic);
  });
});
