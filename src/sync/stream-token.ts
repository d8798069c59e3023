/**
 * Sync tokens: one opaque string holding a position in every stream a client
 * syncs (`next_batch` / `since`).
 *
 * Format: `s<version>_<p1>_<p2>_…`, positions in the order of STREAM_NAMES.
 * Only URL-safe characters, so clients can pass it in a query string as is.
 * The version tells how many streams the token holds: streams are only ever
 * appended to STREAM_NAMES, so a token written before a stream existed still
 * parses, with that stream at 0 ("everything in it is new"). Anything a client
 * sends that is not such a token is a 400 M_INVALID_PARAM, never a 500.
 */
import { errors } from '../protocol/errors.js';

/**
 * Every stream a sync token has a position in. Append only: the position of a
 * name in this list is its place in the token. Adding a stream means appending
 * it here and adding a version to TOKEN_VERSIONS.
 */
export const STREAM_NAMES = [
  'roomEvents',
  'accountData',
  'receipts',
  'typing',
  'presence',
  'toDevice',
  'deviceLists',
  'invites',
] as const;

export type StreamName = (typeof STREAM_NAMES)[number];

/**
 * A position per stream. Positions are non-negative safe integers, except in
 * pagination tokens (/messages), whose `roomEvents` may be negative: events
 * backfilled over federation sit below the stream's first position
 * (storage's reserveBackfillPositions). /sync refuses those.
 */
export type StreamPositions = Readonly<Record<StreamName, number>>;

/** Token format version → how many streams (a prefix of STREAM_NAMES) it holds. */
export type TokenVersions = Readonly<Record<number, number>>;

export const TOKEN_VERSIONS: TokenVersions = { 1: STREAM_NAMES.length };
export const CURRENT_TOKEN_VERSION = 1;

/** A real token is well under this; the bound keeps garbage from being split and scanned. */
const MAX_TOKEN_LENGTH = 256;
/** Canonical decimal: no sign, no leading zeros, no exponent, at most 16 digits. */
const POSITION_PATTERN = /^(0|[1-9][0-9]{0,15})$/;
/** The same, or a negative one: a pagination token's room events position. */
const SIGNED_POSITION_PATTERN = /^(0|-?[1-9][0-9]{0,15})$/;
const HEADER_PATTERN = /^s([1-9][0-9]{0,3})$/;

export function zeroPositions(): StreamPositions {
  return positionsFrom(() => 0);
}

function positionsFrom(positionOf: (stream: StreamName, index: number) => number): StreamPositions {
  const positions = {} as Record<StreamName, number>;
  STREAM_NAMES.forEach((stream, index) => {
    positions[stream] = positionOf(stream, index);
  });
  return positions;
}

export function isValidPosition(position: number): boolean {
  return Number.isSafeInteger(position) && position >= 0;
}

export function encodeSyncToken(positions: StreamPositions): string {
  const parts = STREAM_NAMES.map((stream) => {
    const position = positions[stream];
    // A bad position here is a bug in the server, not the client's fault: fail loudly.
    const valid =
      stream === 'roomEvents' ? Number.isSafeInteger(position) : isValidPosition(position);
    if (!valid) throw new Error(`Invalid ${stream} position: ${position}`);
    return String(position);
  });
  return `s${CURRENT_TOKEN_VERSION}_${parts.join('_')}`;
}

/** The positions of a client's token; any malformed token → 400 M_INVALID_PARAM. */
export function parseSyncToken(text: unknown): StreamPositions {
  return parseSyncTokenWithVersions(text, TOKEN_VERSIONS);
}

/**
 * A token /messages or /context takes (`from`, `to`): a sync token, or one
 * whose room events position is negative (backfilled history).
 */
export function parsePaginationToken(text: unknown): StreamPositions {
  return parseSyncTokenWithVersions(text, TOKEN_VERSIONS, { negativeRoomEvents: true });
}

/** parseSyncToken against an explicit version table (so older formats can be tested). */
export function parseSyncTokenWithVersions(
  text: unknown,
  versions: TokenVersions,
  { negativeRoomEvents = false }: { negativeRoomEvents?: boolean } = {},
): StreamPositions {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_TOKEN_LENGTH) {
    throw invalidToken();
  }
  const [header = '', ...parts] = text.split('_');
  const streamCount = streamCountOf(header, versions);
  if (parts.length !== streamCount) throw invalidToken();
  const values = parts.map((part, index) =>
    parsePosition(part, negativeRoomEvents && STREAM_NAMES[index] === 'roomEvents'),
  );
  return positionsFrom((_stream, index) => values[index] ?? 0);
}

function streamCountOf(header: string, versions: TokenVersions): number {
  const version = HEADER_PATTERN.exec(header)?.[1];
  const count = version === undefined ? undefined : versions[Number(version)];
  if (count === undefined || count > STREAM_NAMES.length) throw invalidToken();
  return count;
}

function parsePosition(part: string, signed: boolean): number {
  if (!(signed ? SIGNED_POSITION_PATTERN : POSITION_PATTERN).test(part)) throw invalidToken();
  const position = Number(part);
  if (!Number.isSafeInteger(position)) throw invalidToken();
  return position;
}

function invalidToken() {
  return errors.invalidParam('Invalid sync token');
}

/** The later position of each stream: what a client has seen after reading both. */
export function maxPositions(a: StreamPositions, b: StreamPositions): StreamPositions {
  return positionsFrom((stream) => Math.max(a[stream], b[stream]));
}

/** True when `a` is beyond `b` in at least one stream (there is something new in `a`). */
export function isAfter(a: StreamPositions, b: StreamPositions): boolean {
  return STREAM_NAMES.some((stream) => a[stream] > b[stream]);
}

export function samePositions(a: StreamPositions, b: StreamPositions): boolean {
  return STREAM_NAMES.every((stream) => a[stream] === b[stream]);
}
