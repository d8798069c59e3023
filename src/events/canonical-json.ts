/**
 * Canonical JSON (spec appendices, "Canonical JSON"): the one byte encoding of a
 * JSON value that hashes and signatures are computed over. Anything the
 * encoding cannot represent is refused with 400 M_BAD_JSON, as room versions 6+
 * require ("Servers MUST strictly enforce the JSON format").
 */
import { errors } from '../protocol/errors.js';

/**
 * Deepest nesting of arrays/objects we encode. The spec sets no limit, but
 * encoding is recursive and a client can send a 100k-deep array. 512 is far
 * deeper than any real event and deeper than other servers accept (serde_json
 * stops at 128, Python's encoder near 1000), so no valid event is refused.
 */
export const MAX_NESTING_DEPTH = 512;

/** The spec's integer range, `[-(2**53)+1, (2**53)-1]`: exactly JS's safe integers. */
const MAX_INTEGER = Number.MAX_SAFE_INTEGER;

/** A code unit from U+D800 up: the only ones where UTF-16 order and code point order differ. */
const HIGH_CODE_UNIT = /[\uD800-\uFFFF]/;

declare global {
  interface String {
    /** ES2024 (Node 20 has it; the ES2022 lib does not declare it): false if a surrogate is unpaired. */
    isWellFormed(): boolean;
  }
}

export function canonicalJson(value: unknown): string {
  return encodeValue(value, 0);
}

/** The UTF-8 bytes of the canonical encoding; the PDU size limit (65,536 bytes) is measured on these. */
export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/**
 * The UTF-8 size of an object's canonical JSON with `extra` members added,
 * given the object's encoding without them. Key order moves members but does
 * not change their lengths, so each adds its own encoding plus a comma.
 */
export function canonicalJsonLengthWith(
  objectJson: string,
  extra: Record<string, unknown>,
): number {
  let length = Buffer.byteLength(objectJson, 'utf8');
  const keys = Object.keys(extra);
  for (const key of keys) {
    length += Buffer.byteLength(encodeString(key) + ':' + encodeValue(extra[key], 1), 'utf8') + 1;
  }
  // `{}` plus members needs one comma fewer than members.
  return objectJson === '{}' && keys.length > 0 ? length - 1 : length;
}

function encodeValue(value: unknown, depth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return encodeNumber(value);
    case 'string':
      return encodeString(value);
    case 'object':
      return encodeContainer(value, depth + 1);
    default:
      throw errors.badJson(`A ${typeof value} value cannot be encoded as JSON`);
  }
}

function encodeContainer(value: object, depth: number): string {
  if (depth > MAX_NESTING_DEPTH) {
    throw errors.badJson(`JSON nested deeper than ${MAX_NESTING_DEPTH} levels`);
  }
  // Plain loops and string concatenation: this runs a few times for every event sent.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + encodeValue(value[i], depth);
    return out + ']';
  }
  if (!isPlainObject(value)) throw errors.badJson('Only plain JSON objects can be encoded');
  const keys = sortedKeys(value);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    out += (i > 0 ? ',' : '') + encodeString(key) + ':' + encodeValue(value[key], depth);
  }
  return out + '}';
}

/** Keys in code point order; the default sort (UTF-16 order) agrees unless a key has a high code unit. */
function sortedKeys(object: object): string[] {
  const keys = Object.keys(object).sort();
  return keys.some((key) => HIGH_CODE_UNIT.test(key)) ? keys.sort(compareCodePoints) : keys;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * Integers only, without exponent or fraction: String() writes every safe
 * integer in plain digits and `-0` as `0`, as the spec's example requires
 * (`-0` → `0`, `1e10` → `10000000000`). A value parsed from `1.0` cannot be
 * told from `1` once parsed, so it is accepted.
 */
function encodeNumber(value: number): string {
  if (!Number.isInteger(value)) throw errors.badJson(`${value} is not an integer`);
  if (Math.abs(value) > MAX_INTEGER) {
    throw errors.badJson(`${value} is outside the canonical JSON integer range`);
  }
  return String(value);
}

/**
 * JSON.stringify escapes exactly what the grammar requires: `"`, `\`, the
 * short forms \b \f \n \r \t, other controls as lower-case \u00XX, and nothing
 * else (non-ASCII stays as UTF-8). Lone surrogates have no UTF-8 encoding, so
 * they are refused rather than escaped.
 */
function encodeString(value: string): string {
  if (!value.isWellFormed()) throw errors.badJson('String contains a lone surrogate');
  return JSON.stringify(value);
}

/**
 * Keys sort by Unicode code point. JS's default sort compares UTF-16 code
 * units, which puts U+10000.. (surrogate pairs, D800–DFFF) before U+E000–FFFF;
 * rank the code units so that surrogates sort above the rest of the BMP.
 */
export function compareCodePoints(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const left = a.charCodeAt(i);
    const right = b.charCodeAt(i);
    if (left !== right) return codePointRank(left) - codePointRank(right);
  }
  return a.length - b.length;
}

function codePointRank(codeUnit: number): number {
  if (codeUnit >= 0xd800 && codeUnit <= 0xdfff) return codeUnit + 0x2000;
  if (codeUnit >= 0xe000) return codeUnit - 0x800;
  return codeUnit;
}
