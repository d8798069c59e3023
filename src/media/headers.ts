/**
 * The response headers of media downloads, pure: Content-Type as uploaded,
 * Content-Disposition (inline only for the spec's safe types, RFC 6266 file
 * names), the spec's security headers, and single byte ranges.
 */

/**
 * The spec's "serving inline content" list: types a browser cannot be made to
 * run script from. Anything else is served as an attachment.
 */
const INLINE_SAFE_TYPES = new Set([
  'text/css',
  'text/plain',
  'text/csv',
  'application/json',
  'application/ld+json',
  'image/jpeg',
  'image/gif',
  'image/png',
  'image/apng',
  'image/webp',
  'image/avif',
  'video/mp4',
  'video/webm',
  'video/ogg',
  'video/quicktime',
  'audio/mp4',
  'audio/webm',
  'audio/aac',
  'audio/mpeg',
  'audio/ogg',
  'audio/wave',
  'audio/wav',
  'audio/x-wav',
  'audio/x-pn-wav',
  'audio/flac',
  'audio/x-flac',
]);

/**
 * Sent with every media response: uploaded HTML or SVG opened straight from the
 * server can run no script on its origin (the spec's recommended CSP), and web
 * clients on other origins may still embed the media.
 */
export const MEDIA_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; " +
    "style-src 'unsafe-inline'; object-src 'self';",
  'cross-origin-resource-policy': 'cross-origin',
  'x-content-type-options': 'nosniff',
};

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** `type/subtype`, lower-cased, without parameters. */
export function mediaTypeEssence(contentType: string): string {
  return (contentType.split(';', 1)[0] ?? '').trim().toLowerCase();
}

export function isInlineSafe(contentType: string): boolean {
  return INLINE_SAFE_TYPES.has(mediaTypeEssence(contentType));
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*;.*)?$/;

/**
 * The Content-Type an upload is stored with: the client's header when it is a
 * well-formed media type in printable ASCII (so it can always be sent back as a
 * header), else the spec's default.
 */
export function uploadContentType(header: string | undefined): string {
  const value = header?.trim();
  if (!value || !PRINTABLE_ASCII.test(value) || !MEDIA_TYPE.test(value)) {
    return DEFAULT_CONTENT_TYPE;
  }
  return value;
}

/** Characters RFC 6266 lets through a quoted `filename="…"` without trouble. */
const PLAIN_FILENAME = /^[\x20-\x7e]*$/;

/**
 * `inline` or `attachment`, with the file name when there is one: as a quoted
 * string when it is printable ASCII, else as RFC 5987 `filename*=utf-8''…`.
 */
export function contentDisposition(kind: 'inline' | 'attachment', fileName: string | null): string {
  if (fileName === null || fileName === '') return kind;
  if (PLAIN_FILENAME.test(fileName)) {
    return `${kind}; filename="${fileName.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${kind}; filename*=utf-8''${encodeRfc5987(fileName)}`;
}

/** Percent-encodes everything but RFC 5987's attr-char. */
function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function downloadDisposition(contentType: string, fileName: string | null): string {
  return contentDisposition(isInlineSafe(contentType) ? 'inline' : 'attachment', fileName);
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

/**
 * A `Range: bytes=…` header against a file of `size` bytes: the one range to
 * serve, `'unsatisfiable'` (416), or undefined to serve the whole file (no
 * header, another unit, several ranges, or a malformed one, as RFC 9110 allows).
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
