/**
 * Federation request signing (server-server API, "Request Authentication"):
 * the JSON object a request's signature covers, the `Authorization: X-Matrix`
 * header that carries it, and the header's parser. Pure: both the outbound
 * client and inbound authentication build on it.
 */
import type { SigningKey } from '../crypto/server-keys.js';
import type { JsonObject, JsonValue } from '../events/pdu.js';
import { signJson } from '../events/signing.js';

export interface SignedRequestParts {
  method: string;
  /** The path with its query string, exactly as sent: `/_matrix/federation/v1/send/1?x=y`. */
  uri: string;
  origin: string;
  destination: string;
  /** The parsed JSON body; absent when the request has none. */
  content?: JsonValue;
}

export interface XMatrixParams {
  origin: string;
  /** Absent only in requests from servers older than spec v1.3. */
  destination?: string;
  key: string;
  sig: string;
}

/** The object whose signature authenticates a request ("Step 1 sign JSON"). */
export function requestSigningJson(p: SignedRequestParts): JsonObject {
  const json: JsonObject = {
    method: p.method,
    uri: p.uri,
    origin: p.origin,
    destination: p.destination,
  };
  if (p.content !== undefined) json.content = p.content;
  return json;
}

/**
 * The `Authorization` header value for a request signed by `key`. Written the
 * way the spec asks senders to, for older receivers: one space after the
 * scheme, lower-case names, no spaces around commas. Server names and key IDs
 * hold no quotes or backslashes, and unpadded base64 none either.
 */
export function xMatrixAuthorization(p: SignedRequestParts, key: SigningKey): string {
  const signed = signJson(requestSigningJson(p), p.origin, key);
  const sig = signed.signatures[p.origin]![key.keyId]!;
  return (
    `X-Matrix origin=${quoted(p.origin)},destination=${quoted(p.destination)},` +
    `key=${quoted(key.keyId)},sig=${quoted(sig)}`
  );
}

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

// RFC 9110 §5.6.2 tchar; a colon is also accepted unquoted, as the spec asks
// receivers to for older senders (`origin=example.org:8448`).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:]+$/;
const SCHEME = /^x-matrix[ ]+/i;
const OWS = ' \t';

/**
 * Reads an `Authorization: X-Matrix` header (RFC 9110 §11.4 auth-params):
 * comma-separated `name=value` pairs, names case-insensitive, values tokens or
 * quoted strings with backslash escapes, spaces and tabs around commas.
 * Unknown parameters are ignored. Undefined when the scheme is another, the
 * syntax is broken, a parameter repeats, or origin, key or sig is missing.
 */
export function parseXMatrix(header: string): XMatrixParams | undefined {
  const scheme = SCHEME.exec(header);
  if (!scheme) return undefined;
  const params = parseParams(header.slice(scheme[0].length));
  if (!params) return undefined;
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  if (!origin || !key || !sig) return undefined;
  const destination = params.get('destination');
  return destination === undefined ? { origin, key, sig } : { origin, destination, key, sig };
}

/** The parameters by lower-cased name, or undefined on a syntax error or a repeated name. */
function parseParams(text: string): Map<string, string> | undefined {
  const params = new Map<string, string>();
  const reader = new Reader(text);
  for (;;) {
    reader.skip(OWS);
    const name = reader.take((c) => c !== '=' && !OWS.includes(c) && c !== ',');
    if (!TOKEN.test(name) || !reader.consume('=')) return undefined;
    // A token value has at least one character; a quoted one may be empty.
    const value =
      reader.peek() === '"' ? reader.quotedString() : nonEmpty(reader.take(isTokenChar));
    if (value === undefined) return undefined;
    const lower = name.toLowerCase();
    if (params.has(lower)) return undefined;
    params.set(lower, value);
    reader.skip(OWS);
    if (reader.atEnd()) return params;
    if (!reader.consume(',')) return undefined;
  }
}

function isTokenChar(c: string): boolean {
  return TOKEN.test(c);
}

function nonEmpty(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/** A cursor over the header's parameter list. */
class Reader {
  private position = 0;

  constructor(private readonly text: string) {}

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.position];
  }

  consume(c: string): boolean {
    if (this.text[this.position] !== c) return false;
    this.position += 1;
    return true;
  }

  skip(chars: string): void {
    while (!this.atEnd() && chars.includes(this.text[this.position]!)) this.position += 1;
  }

  take(accept: (c: string) => boolean): string {
    const start = this.position;
    while (!this.atEnd() && accept(this.text[this.position]!)) this.position += 1;
    return this.text.slice(start, this.position);
  }

  /** A quoted-string's unescaped value, or undefined when it is not closed. */
  quotedString(): string | undefined {
    this.position += 1; // the opening quote
    let value = '';
    while (!this.atEnd()) {
      const c = this.text[this.position]!;
      this.position += 1;
      if (c === '"') return value;
      if (c === '\\') {
        if (this.atEnd()) return undefined;
        value += this.text[this.position]!;
        this.position += 1;
      } else {
        value += c;
      }
    }
    return undefined;
  }
}
