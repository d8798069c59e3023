/**
 * A deterministic fuzz of every endpoint of the foundation: broken JSON,
 * invalid UTF-8, huge and deeply nested values, every field of the wrong type,
 * odd content types, odd percent-encoding in paths and query strings, with and
 * without a valid access token. Whatever comes in, the answer is never a 5xx,
 * and every error is JSON with a string `errcode` (the HTML fallback pages
 * excepted; the UIA challenge is a 401 whose body is the spec's auth response).
 *
 * The cases come from a seeded PRNG (no Math.random), so a failure always
 * reproduces.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3 } from '../support/client.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { responseValidator } from '../support/spec-schemas.js';

const V1 = '/_matrix/client/v1';
const PASSWORD = 'correct horse battery staple';
/** Fine for every request: the default max_request_body_bytes is 1 MiB. */
const HUGE = 100_000;

// ---------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: small, fast, good enough to pick fuzz cases reproducibly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

const ODD_CHARS = ['a', 'Z', '0', ' ', '"', '\\', '/', ':', '@', '%', '\u0000', '\u001f', '\u00e9'];
const ODD_CHARS_WIDE = [...ODD_CHARS, '\u202e', '\ufeff', '\uffff', '🙂', '\u0301', '\u2028'];

function randomString(rand: () => number, maxLength: number): string {
  const length = Math.floor(rand() * maxLength);
  let out = '';
  for (let i = 0; i < length; i++)
    out += ODD_CHARS_WIDE[Math.floor(rand() * ODD_CHARS_WIDE.length)];
  return out;
}

function randomBytes(rand: () => number, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => Math.floor(rand() * 256)));
}

// ---------------------------------------------------------------------------
// JSON with raw fragments (-0, 1e309, deep nesting) that JSON.stringify cannot write

class Raw {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new Raw(text);

function toJson(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const deepArray = (depth: number) => raw('['.repeat(depth) + ']'.repeat(depth));
const deepObject = (depth: number) => raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
const deepMixed = (depth: number) => raw('[{"a":'.repeat(depth) + 'null' + '}]'.repeat(depth));

/** What every known field gets instead of its proper value. */
const WRONG_VALUES: [string, unknown][] = [
  ['null', null],
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['2^53', Number.MAX_SAFE_INTEGER + 1],
  ['-0', raw('-0')],
  ['1e309', raw('1e309')],
  ['-1e309', raw('-1e309')],
  ['1e-400', raw('1e-400')],
  ['30 digits', raw('123456789012345678901234567890')],
  ['true', true],
  ['false', false],
  ['[]', []],
  ['[mixed]', [1, 'a', null, {}]],
  ['{}', {}],
  ['{a:1}', { a: 1 }],
  ['""', ''],
  ['NUL', '\u0000'],
  ['lone surrogate', raw('"\\ud800"')],
  ['emoji', '🙂'.repeat(50)],
  ['100k string', 'x'.repeat(HUGE)],
  ['100k unicode', '\u00e9'.repeat(HUGE / 2)],
  ['user id', '@fuzz_main:localhost'],
  ['deep array 10k', deepArray(10_000)],
  ['deep object 10k', deepObject(10_000)],
];

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=iso-8859-1',
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=fuzz',
  'application/octet-stream',
  '*/*',
  'application/json, text/html',
  'garbage;;;=',
  '',
  ';',
  'application/json; charset="',
];

/** Path segments and query values as sent on the wire (already "encoded", often badly). */
const ODD_URL_PIECES = [
  '%',
  '%%',
  '%E0%A4%A',
  '%00',
  '%ZZ',
  '%C0%AF',
  '%ED%A0%80',
  '%FF%FE%FD',
  '%2F',
  '%2e%2e',
  '..',
  '.',
  '%252F',
  '%20',
  '+',
  '%u0041',
  '\u00e9',
  '%F0%9F%99%82',
  '%0D%0A',
  'a'.repeat(3000),
  '%41'.repeat(1000),
];

// ---------------------------------------------------------------------------
// Endpoints

interface Context {
  /** A UIA session of registration (no user yet). */
  registrationSession: string;
  /** The main fuzzing user's own device. */
  deviceId: string;
  /** A guest, for the guest upgrade. */
  guestToken: string;
  guestLocalpart: string;
}

interface Endpoint {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Full path; `{name}` marks a path parameter. */
  path: string;
  label?: string;
  auth: 'required' | 'optional' | 'none';
  /** Behind User-Interactive Auth: a 401 auth response (no errcode) is a proper answer. */
  uia?: boolean;
  /** The spec's path template, for the UIA 401 schema. */
  specPath?: string;
  /** An HTML page: its errors may be HTML too. */
  html?: boolean;
  /** Which user's token to use; a request that succeeds revokes it. */
  revokes?: boolean;
  user?: string;
  params?: (ctx: Context) => Record<string, string>;
  query?: (ctx: Context) => Record<string, string>;
  body?: (ctx: Context) => Record<string, unknown>;
}

/** UIA with a wrong password and an unknown session: never completes, so never changes anything. */
const wrongPasswordAuth = () => ({
  type: 'm.login.password',
  identifier: { type: 'm.id.user', user: 'fuzz_main' },
  password: 'not the password',
  session: 'nosuchsession',
});

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/_matrix/client/versions', auth: 'optional' },
  { method: 'GET', path: '/.well-known/matrix/client', auth: 'none' },
  { method: 'GET', path: `${CLIENT_V3}/capabilities`, auth: 'required' },
  { method: 'GET', path: `${CLIENT_V3}/login`, auth: 'none' },
  {
    method: 'POST',
    path: `${CLIENT_V3}/login`,
    label: 'm.login.password',
    auth: 'none',
    body: () => ({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'fuzz_main' },
      password: 'not the password',
      device_id: 'FUZZDEVICE',
      initial_device_display_name: 'fuzz',
      refresh_token: true,
    }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/login`,
    label: 'm.login.token and legacy fields',
    auth: 'none',
    body: () => ({
      type: 'm.login.token',
      token: 'wlt_eyJ1IjoiQGZ1enpfbWFpbjpsb2NhbGhvc3QifQ.c2ln',
      user: 'fuzz_main',
      medium: 'email',
      address: 'fuzz@example.org',
    }),
  },
  {
    method: 'POST',
    path: `${V1}/login/get_token`,
    auth: 'required',
    uia: true,
    specPath: '/_matrix/client/v1/login/get_token',
    body: () => ({ auth: wrongPasswordAuth() }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/logout`,
    auth: 'required',
    revokes: true,
    user: 'fuzz_logout',
    body: () => ({ unused: true }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/logout/all`,
    auth: 'required',
    revokes: true,
    user: 'fuzz_logout_all',
    body: () => ({ unused: true }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/refresh`,
    auth: 'none',
    body: () => ({ refresh_token: 'fuzz' }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/register`,
    label: 'user',
    auth: 'none',
    uia: true,
    specPath: '/_matrix/client/v3/register',
    query: () => ({ kind: 'user' }),
    body: () => ({
      username: 'fuzz_reg',
      password: PASSWORD,
      device_id: 'FUZZREG',
      initial_device_display_name: 'fuzz',
      inhibit_login: false,
      refresh_token: true,
      auth: { type: 'm.login.dummy', session: 'nosuchsession' },
    }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/register`,
    label: 'guest upgrade',
    auth: 'none',
    uia: true,
    specPath: '/_matrix/client/v3/register',
    body: (ctx) => ({
      guest_access_token: ctx.guestToken,
      username: ctx.guestLocalpart,
      password: PASSWORD,
      auth: { type: 'm.login.dummy', session: 'nosuchsession' },
    }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/register`,
    label: 'guest',
    auth: 'none',
    // A mangled `kind` makes it a user registration, which starts UIA (401).
    uia: true,
    specPath: '/_matrix/client/v3/register',
    query: () => ({ kind: 'guest' }),
    body: () => ({ initial_device_display_name: 'fuzz guest' }),
  },
  {
    method: 'GET',
    path: `${CLIENT_V3}/register/available`,
    auth: 'none',
    query: () => ({ username: 'fuzz_free' }),
  },
  {
    method: 'GET',
    path: `${V1}/register/m.login.registration_token/validity`,
    auth: 'none',
    query: () => ({ token: 'fuzz' }),
  },
  { method: 'GET', path: `${CLIENT_V3}/account/whoami`, auth: 'required' },
  {
    method: 'POST',
    path: `${CLIENT_V3}/account/password`,
    auth: 'required',
    uia: true,
    specPath: '/_matrix/client/v3/account/password',
    body: () => ({
      new_password: 'fuzzed password',
      logout_devices: false,
      auth: wrongPasswordAuth(),
    }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/account/deactivate`,
    auth: 'required',
    uia: true,
    specPath: '/_matrix/client/v3/account/deactivate',
    body: () => ({ erase: false, id_server: 'id.example.org', auth: wrongPasswordAuth() }),
  },
  { method: 'GET', path: `${CLIENT_V3}/account/3pid`, auth: 'required' },
  { method: 'GET', path: `${CLIENT_V3}/devices`, auth: 'required' },
  {
    method: 'GET',
    path: `${CLIENT_V3}/devices/{deviceId}`,
    auth: 'required',
    params: (ctx) => ({ deviceId: ctx.deviceId }),
  },
  {
    method: 'PUT',
    path: `${CLIENT_V3}/devices/{deviceId}`,
    auth: 'required',
    params: (ctx) => ({ deviceId: ctx.deviceId }),
    body: () => ({ display_name: 'fuzzed device' }),
  },
  {
    method: 'DELETE',
    path: `${CLIENT_V3}/devices/{deviceId}`,
    auth: 'required',
    uia: true,
    specPath: '/_matrix/client/v3/devices/{deviceId}',
    params: (ctx) => ({ deviceId: ctx.deviceId }),
    body: () => ({ auth: wrongPasswordAuth() }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/delete_devices`,
    auth: 'required',
    uia: true,
    specPath: '/_matrix/client/v3/delete_devices',
    body: (ctx) => ({ devices: [ctx.deviceId, 'OTHER'], auth: wrongPasswordAuth() }),
  },
  // The fallback pages (prose-only in the spec).
  { method: 'GET', path: '/_matrix/static/client/login/', auth: 'none', html: true },
  {
    method: 'GET',
    path: `${CLIENT_V3}/auth/{authType}/fallback/web`,
    auth: 'none',
    html: true,
    params: () => ({ authType: 'm.login.dummy' }),
    query: (ctx) => ({ session: ctx.registrationSession }),
  },
  {
    method: 'POST',
    path: `${CLIENT_V3}/auth/{authType}/fallback/web`,
    auth: 'none',
    params: () => ({ authType: 'm.login.password' }),
    body: (ctx) => ({ session: ctx.registrationSession, password: 'not the password' }),
  },
];

// ---------------------------------------------------------------------------
// Cases

interface FuzzCase {
  name: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  chunked?: boolean;
}

function buildPath(endpoint: Endpoint, params: Record<string, string>, query: string): string {
  const path = endpoint.path.replace(/\{(\w+)\}/g, (_m, name: string) => params[name] ?? '');
  return query ? `${path}?${query}` : path;
}

function encodeQuery(query: Record<string, string>): string {
  return Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
}

/** Every path to a leaf or object of the template (`['auth', 'type']`, …). */
function fieldPaths(value: Record<string, unknown>, prefix: string[] = []): string[][] {
  return Object.entries(value).flatMap(([key, sub]) => {
    const here = [...prefix, key];
    return typeof sub === 'object' && sub !== null && !Array.isArray(sub)
      ? [here, ...fieldPaths(sub as Record<string, unknown>, here)]
      : [here];
  });
}

function withField(
  template: Record<string, unknown>,
  path: string[],
  value: unknown,
  remove = false,
): Record<string, unknown> {
  const copy = structuredClone(template);
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1] as string;
  if (remove) delete node[last];
  else node[last] = value;
  return copy;
}

function insertBytes(text: string, at: number, bytes: Buffer): Buffer {
  const buf = Buffer.from(text);
  const i = Math.min(at, buf.length);
  return Buffer.concat([buf.subarray(0, i), bytes, buf.subarray(i)]);
}

const INVALID_UTF8 = [
  Buffer.from([0xff]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
];

const NOT_OBJECTS = [
  '[]',
  '[{}]',
  '0',
  '-0',
  '1e309',
  '-1e309',
  '123456789012345678901234567890',
  '"text"',
  '""',
  'true',
  'false',
  'null',
  ' ',
  '\t\r\n',
  '{}',
  '{} {}',
  '{}garbage',
  '\ufeff{}',
  '{"a":1,}',
  '{"a" 1}',
  "{'a':1}",
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{"a":undefined}',
  '/* c */ {}',
];

function bodyCases(rand: () => number, template: Record<string, unknown>): [string, Buffer][] {
  const json = toJson(template);
  const cases: [string, Buffer][] = [];
  const add = (name: string, text: string | Buffer) =>
    cases.push([name, typeof text === 'string' ? Buffer.from(text) : text]);

  add('template', json);
  for (let i = 0; i < 6; i++) {
    const cut = 1 + Math.floor(rand() * (json.length - 1));
    add(`truncated at ${cut}`, json.slice(0, cut));
  }
  for (const bytes of INVALID_UTF8) {
    const at = Math.floor(rand() * json.length);
    add(`invalid UTF-8 ${bytes.toString('hex')} at ${at}`, insertBytes(json, at, bytes));
    // Inside a string value, where a lenient decoder would hide it.
    const quote = json.indexOf('":"');
    if (quote > 0)
      add(
        `invalid UTF-8 ${bytes.toString('hex')} in a string`,
        insertBytes(json, quote + 3, bytes),
      );
  }
  add('random bytes', randomBytes(rand, 64));
  for (const text of NOT_OBJECTS) add(`not an object: ${JSON.stringify(text)}`, text);
  for (const depth of [10_000, 100_000]) {
    add(`deep array ${depth}`, deepArray(depth).text);
    add(`deep object ${depth}`, deepObject(depth).text);
  }
  add('deep mixed 50k', deepMixed(50_000).text);
  add('deep unclosed 100k', '['.repeat(100_000));
  add('100k key', toJson({ ...template, ['k'.repeat(HUGE)]: 1 }));
  add(
    '20k keys',
    toJson(Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]))),
  );
  add(
    '100k-element array field',
    toJson({ ...template, extra: Array.from({ length: HUGE }, () => 0) }),
  );
  add('__proto__', `{"__proto__":{"polluted":true},${json.slice(1)}`);
  add(
    'constructor.prototype',
    toJson({ ...template, constructor: { prototype: { polluted: 1 } } }),
  );
  add(
    'toString/hasOwnProperty',
    toJson({ ...template, toString: 1, hasOwnProperty: 'x', valueOf: [] }),
  );
  const firstKey = Object.keys(template)[0];
  if (firstKey !== undefined) add('duplicate key', `{"${firstKey}":[],${json.slice(1)}`);

  for (const path of fieldPaths(template)) {
    const name = path.join('.');
    cases.push([
      `${name} missing`,
      Buffer.from(toJson(withField(template, path, undefined, true))),
    ]);
    for (const [label, value] of WRONG_VALUES) {
      cases.push([`${name} = ${label}`, Buffer.from(toJson(withField(template, path, value)))]);
    }
    const random = randomString(rand, 40);
    cases.push([
      `${name} = random ${JSON.stringify(random)}`,
      Buffer.from(toJson(withField(template, path, random))),
    ]);
  }
  return cases;
}

function queryCases(rand: () => number, query: Record<string, string>): [string, string][] {
  const cases: [string, string][] = [];
  const keys = [...Object.keys(query), 'access_token'];
  for (const key of keys) {
    const rest = Object.fromEntries(Object.entries(query).filter(([k]) => k !== key));
    const prefix = Object.keys(rest).length > 0 ? `${encodeQuery(rest)}&` : '';
    for (const piece of ODD_URL_PIECES)
      cases.push([`${key}=${piece.slice(0, 20)}`, `${prefix}${key}=${piece}`]);
    cases.push([`${key} empty`, `${prefix}${key}=`]);
    cases.push([`${key} without =`, `${prefix}${key}`]);
    cases.push([`${key} twice`, `${prefix}${key}=a&${key}=b`]);
    cases.push([`${key}[]`, `${prefix}${key}[]=a`]);
    cases.push([`${key}[x]`, `${prefix}${key}[x]=a`]);
    cases.push([`${key} 12k`, `${prefix}${key}=${'q'.repeat(12_000)}`]);
    const random = encodeURIComponent(randomString(rand, 30));
    cases.push([`${key} random`, `${prefix}${key}=${random}`]);
  }
  const base = encodeQuery(query);
  for (const odd of [
    '',
    '&&&',
    '=',
    '=x',
    '%',
    '%ZZ=%ZZ',
    '__proto__=x',
    '__proto__[polluted]=1',
    'constructor=x&toString=y&hasOwnProperty=z',
    'a=%E0%A4%A',
    '?',
    '#frag',
    // Over Node's 16 KiB limit for the request line and headers: 431.
    `x=${'y'.repeat(20_000)}`,
  ]) {
    cases.push([`odd query ${odd.slice(0, 20)}`, base ? `${base}&${odd}` : odd]);
  }
  return cases;
}

function paramCases(
  rand: () => number,
  params: Record<string, string>,
): [string, Record<string, string>][] {
  const cases: [string, Record<string, string>][] = [];
  for (const name of Object.keys(params)) {
    for (const piece of ODD_URL_PIECES)
      cases.push([`${name}=${piece.slice(0, 20)}`, { ...params, [name]: piece }]);
    for (let i = 0; i < 5; i++) {
      const bytes = randomBytes(rand, 1 + Math.floor(rand() * 12));
      const encoded = [...bytes]
        .map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`)
        .join('');
      cases.push([`${name}=${encoded}`, { ...params, [name]: encoded }]);
    }
    cases.push([`${name} empty`, { ...params, [name]: '' }]);
  }
  return cases;
}

/** The batch for one endpoint, without tokens (added per case below). */
function casesFor(endpoint: Endpoint, ctx: Context, rand: () => number): FuzzCase[] {
  const params = endpoint.params?.(ctx) ?? {};
  const query = endpoint.query?.(ctx) ?? {};
  const template = endpoint.body?.(ctx);
  const jsonHeaders = { 'content-type': 'application/json' };
  const cases: FuzzCase[] = [];
  const path = buildPath(endpoint, params, encodeQuery(query));

  if (template !== undefined) {
    for (const [name, body] of bodyCases(rand, template)) {
      cases.push({ name: `body ${name}`, path, headers: jsonHeaders, body });
    }
    const json = Buffer.from(toJson(template));
    for (const type of CONTENT_TYPES) {
      cases.push({
        name: `content-type ${JSON.stringify(type)}`,
        path,
        headers: type === undefined ? {} : { 'content-type': type },
        body: json,
      });
    }
    cases.push({ name: 'chunked', path, headers: jsonHeaders, body: json, chunked: true });
    cases.push({
      name: 'gzip declared, not gzipped',
      path,
      headers: { ...jsonHeaders, 'content-encoding': 'gzip' },
      body: json,
    });
  } else {
    // Bodies where none is expected are ignored or refused, never a crash.
    for (const [name, text] of [
      ['junk', '{'],
      ['deep', deepArray(100_000).text],
      ['invalid UTF-8', '\u00ff'],
    ]) {
      cases.push({
        name: `unexpected body ${name}`,
        path,
        headers: jsonHeaders,
        body: Buffer.from(text as string, 'latin1'),
      });
    }
  }
  cases.push({ name: 'no body', path, headers: {} });
  cases.push({ name: 'empty body', path, headers: jsonHeaders, body: Buffer.alloc(0) });

  for (const [name, q] of queryCases(rand, query)) {
    cases.push({
      name: `query ${name}`,
      path: buildPath(endpoint, params, q),
      headers: jsonHeaders,
      body: template && Buffer.from(toJson(template)),
    });
  }
  for (const [name, p] of paramCases(rand, params)) {
    cases.push({
      name: `path ${name}`,
      path: buildPath(endpoint, p, encodeQuery(query)),
      headers: jsonHeaders,
      body: template && Buffer.from(toJson(template)),
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------
// Sending and judging

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function send(baseUrl: string, method: string, c: FuzzCase): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...c.headers };
    if (c.body !== undefined && !c.chunked) headers['content-length'] = c.body.length;
    const req = http.request(
      { host: url.hostname, port: url.port, method, path: c.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    if (c.body !== undefined) req.write(c.body);
    req.end();
  });
}

/** What is wrong with an answer, or undefined. */
function judge(endpoint: Endpoint, answer: Answer): string | undefined {
  if (answer.status >= 500) return `status ${answer.status}: ${answer.text.slice(0, 200)}`;
  if (endpoint.html) return undefined;
  if (!answer.contentType.startsWith('application/json')) {
    return `status ${answer.status} with content-type ${JSON.stringify(answer.contentType)}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `status ${answer.status}, body not JSON: ${answer.text.slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return `status ${answer.status}, body not a JSON object: ${answer.text.slice(0, 200)}`;
  }
  if (answer.status < 400) return answer.status < 300 ? undefined : `status ${answer.status}`;
  const errcode = (body as Record<string, unknown>).errcode;
  if (typeof errcode === 'string') return undefined;
  if (answer.status === 401 && endpoint.uia && endpoint.specPath) {
    const validate = responseValidator(endpoint.method, endpoint.specPath, 401);
    if (validate(body)) return undefined;
  }
  return `status ${answer.status} without a string errcode: ${answer.text.slice(0, 200)}`;
}

// ---------------------------------------------------------------------------

describe('fuzz', () => {
  let server: TestServer;
  let api: Api;
  const ctx: Context = {
    registrationSession: '',
    deviceId: '',
    guestToken: '',
    guestLocalpart: '',
  };
  /** Current valid token of each fuzzing user. */
  const tokens = new Map<string, string>();

  const login = async (user: string) => {
    const res = await api.login(user);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    tokens.set(user, res.body.access_token);
    return res.body;
  };

  before(async () => {
    server = await startTestServer();
    api = new Api(server.url);
    for (const user of ['fuzz_main', 'fuzz_logout', 'fuzz_logout_all']) {
      const reg = await api.register(user);
      tokens.set(user, reg.access_token);
      if (user === 'fuzz_main') ctx.deviceId = reg.device_id;
    }
    const challenge = await api.post(`${CLIENT_V3}/register`, {
      username: 'fuzz_pending',
      password: PASSWORD,
    });
    ctx.registrationSession = String(challenge.body.session);
    const guest = await api.post<{ user_id: string; access_token: string }>(
      `${CLIENT_V3}/register?kind=guest`,
      {},
    );
    ctx.guestToken = guest.body.access_token;
    ctx.guestLocalpart = guest.body.user_id.slice(1, guest.body.user_id.indexOf(':'));
  });

  after(async () => {
    agent.destroy();
    await server.close();
  });

  for (const endpoint of ENDPOINTS) {
    const title = `${endpoint.method} ${endpoint.path}${endpoint.label ? ` (${endpoint.label})` : ''}`;
    it(title, async () => {
      const rand = prng(seedOf(title));
      const user = endpoint.user ?? 'fuzz_main';
      const failures: string[] = [];
      let sent = 0;
      // Token modes: the full batch where the token matters, samples elsewhere.
      const authed = endpoint.auth !== 'none';
      const validShare = endpoint.revokes ? 0.25 : authed ? 1 : 0.15;
      const noneShare = authed ? 0.3 : 1;
      const invalidShare = 0.15;

      for (const c of casesFor(endpoint, ctx, rand)) {
        const modes: string[] = [];
        if (rand() < validShare) modes.push('valid token');
        if (rand() < noneShare) modes.push('no token');
        if (rand() < invalidShare) modes.push('invalid token');
        for (const mode of modes) {
          const headers = { ...c.headers };
          let path = c.path;
          if (mode === 'invalid token')
            headers.authorization = 'Bearer wft_invalidinvalidinvalidinvalid';
          if (mode === 'valid token') {
            const token = tokens.get(user) as string;
            // Mostly the header; sometimes the query parameter (unless the case fuzzes it).
            if (rand() < 0.2 && !path.includes('access_token')) {
              path += `${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
            } else {
              headers.authorization = `Bearer ${token}`;
            }
          }
          let answer: Answer;
          try {
            answer = await send(server.url, endpoint.method, { ...c, path, headers });
          } catch (err) {
            failures.push(`${c.name} [${mode}]: ${(err as Error).message}`);
            continue;
          }
          sent++;
          const problem = judge(endpoint, answer);
          if (problem) failures.push(`${c.name} [${mode}]: ${problem}`);
          if (endpoint.revokes && mode === 'valid token' && answer.status === 200)
            await login(user);
        }
      }

      assert.ok(sent > 50, `only ${sent} requests were sent`);
      assert.deepEqual(failures, [], `${failures.length} of ${sent} answers were wrong`);
      // The valid-token mode really had a valid token throughout.
      const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: tokens.get(user) });
      assert.equal(whoami.status, 200, `the ${user} token died: ${JSON.stringify(whoami.body)}`);
    });
  }

  it('leaves the server up and the fuzzing user intact', async () => {
    assert.equal((await api.get('/_matrix/client/versions')).status, 200);
    assert.equal((await api.login('fuzz_main')).status, 200);
  });
});
