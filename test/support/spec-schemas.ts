/**
 * The Matrix spec's own response schemas, for checking what Weft answers.
 *
 * Loads the Client-Server OpenAPI files of the spec data (the copy in
 * test/spec-data, see its README), resolves their `$ref`s (relative file paths and
 * JSON-pointer fragments, recursively; every referenced node becomes one
 * `$defs` entry, so recursive schemas need no special case) and compiles the
 * schemas with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

// Both packages are CommonJS; under NodeNext the default import is the module object.
const Ajv2020 = Ajv2020Module.default;
const addFormats = addFormatsModule.default;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The spec data the tests read, copied into the repository (test/spec-data/README.md). */
export const SPEC_DIR = path.resolve(repoRoot, 'test/spec-data');
const CLIENT_SERVER_DIR = path.join(SPEC_DIR, 'api/client-server');
/** The Server-Server API (federation, keys): its responses are checked too, its operations listed apart. */
const SERVER_SERVER_DIR = path.join(SPEC_DIR, 'api/server-server');

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------
// Files and $ref resolution

const fileCache = new Map<string, Json>();

function loadFile(file: string): Json {
  let doc = fileCache.get(file);
  if (doc === undefined) {
    if (!existsSync(file)) throw new Error(`Matrix spec file not found: ${file}`);
    doc = parseYaml(readFileSync(file, 'utf8')) as Json;
    fileCache.set(file, doc);
  }
  return doc;
}

/** The node a JSON pointer (`/a/b~1c`, or '' for the whole document) names. */
function followPointer(doc: Json, pointer: string, where: string): Json {
  if (pointer === '' || pointer === '/') return doc;
  if (!pointer.startsWith('/'))
    throw new Error(`Unsupported JSON pointer '${pointer}' in ${where}`);
  let node: Json = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)] as Json;
    else if (isObject(node) && Object.hasOwn(node, key)) node = node[key] as Json;
    else throw new Error(`JSON pointer '${pointer}' does not resolve in ${where}`);
    if (node === undefined)
      throw new Error(`JSON pointer '${pointer}' does not resolve in ${where}`);
  }
  return node;
}

interface Target {
  /** `<file relative to the spec folder>#<pointer>`: one name per referenced node. */
  id: string;
  file: string;
  node: Json;
}

/** Where a `$ref` found in `file` points. */
function resolveRef(ref: string, file: string): Target {
  const hash = ref.indexOf('#');
  const filePart = hash < 0 ? ref : ref.slice(0, hash);
  const pointer = hash < 0 ? '' : ref.slice(hash + 1);
  const targetFile = filePart === '' ? file : path.resolve(path.dirname(file), filePart);
  const node = followPointer(loadFile(targetFile), pointer, `${ref} (from ${file})`);
  return { id: `${path.relative(SPEC_DIR, targetFile)}#${pointer}`, file: targetFile, node };
}

/** Follows `$ref`s of non-schema objects (responses, media types) until a real node. */
function derefObject(node: Json, file: string): { node: Json; file: string } {
  const seen = new Set<string>();
  let current = { node, file };
  while (isObject(current.node) && typeof current.node.$ref === 'string') {
    const target = resolveRef(current.node.$ref, current.file);
    if (seen.has(target.id)) throw new Error(`$ref cycle at ${target.id}`);
    seen.add(target.id);
    current = { node: target.node, file: target.file };
  }
  return current;
}

interface BundledRef {
  key: string;
  schema: Json;
  /** Ids of the refs this schema uses directly. */
  deps: Set<string>;
}

/** Every referenced schema node, rewritten once and shared by all the schemas using it. */
const bundledRefs = new Map<string, BundledRef>();
const usedKeys = new Set<string>();

function defsKey(id: string): string {
  const base = id.replace(/[^A-Za-z0-9_.-]+/g, '_');
  let key = base;
  for (let i = 2; usedKeys.has(key); i++) key = `${base}_${i}`;
  usedKeys.add(key);
  return key;
}

/** Keywords whose values are not schemas (or are free-form): copied as they are. */
const OPAQUE_KEYWORDS = new Set([
  'example',
  'examples',
  'description',
  'title',
  'enum',
  'const',
  'default',
  'required',
]);
/** Keywords whose values map names to schemas. */
const SCHEMA_MAPS = new Set([
  'properties',
  'patternProperties',
  '$defs',
  'definitions',
  'dependentSchemas',
]);

/** A copy of `schema` (from `file`) whose `$ref`s all point into `#/$defs`. */
function rewriteSchema(schema: Json, file: string, deps: Set<string>): Json {
  if (Array.isArray(schema)) return schema.map((item) => rewriteSchema(item, file, deps));
  if (!isObject(schema)) return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$ref' && typeof value === 'string') {
      const ref = bundleRef(resolveRef(value, file));
      deps.add(ref.id);
      out.$ref = `#/$defs/${ref.key}`;
    } else if (OPAQUE_KEYWORDS.has(key) || key.startsWith('x-')) {
      out[key] = value;
    } else if (SCHEMA_MAPS.has(key) && isObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, sub]) => [name, rewriteSchema(sub, file, deps)]),
      );
    } else {
      out[key] = rewriteSchema(value, file, deps);
    }
  }
  return out;
}

function bundleRef(target: Target): BundledRef & { id: string } {
  let bundled = bundledRefs.get(target.id);
  if (!bundled) {
    // Registered before its contents are rewritten: a cycle ends here.
    bundled = { key: defsKey(target.id), schema: {}, deps: new Set() };
    bundledRefs.set(target.id, bundled);
    bundled.schema = rewriteSchema(target.node, target.file, bundled.deps);
  }
  return { ...bundled, id: target.id };
}

/** A self-contained schema: the rewritten root plus every `$defs` entry it reaches. */
function bundleSchema(schema: Json, file: string): JsonObject {
  const deps = new Set<string>();
  const root = rewriteSchema(schema, file, deps);
  const defs: JsonObject = {};
  const queue = [...deps];
  const done = new Set<string>();
  while (queue.length > 0) {
    const id = queue.pop() as string;
    if (done.has(id)) continue;
    done.add(id);
    const ref = bundledRefs.get(id) as BundledRef;
    defs[ref.key] = ref.schema;
    queue.push(...ref.deps);
  }
  // A boolean root (true/false) is valid JSON Schema too; wrap it to attach $defs.
  const base = isObject(root) ? root : { allOf: [root] };
  return Object.keys(defs).length > 0 ? { ...base, $defs: defs } : base;
}

// ---------------------------------------------------------------------------
// Operations

interface Operation {
  method: string;
  fullPath: string;
  file: string;
  node: JsonObject;
}

let operations: Map<string, Operation> | undefined;
let serverServerOperations: Map<string, Operation> | undefined;

function opKey(method: string, fullPath: string): string {
  return `${method.toUpperCase()} ${fullPath}`;
}

/** Every Client-Server operation, keyed `METHOD /full/path` (basePath + paths key). */
function allOperations(): Map<string, Operation> {
  operations ??= loadOperations(CLIENT_SERVER_DIR);
  return operations;
}

/** Every Server-Server operation (`/_matrix/federation/...`, `/_matrix/key/v2/...`), keyed the same way. */
function allServerServerOperations(): Map<string, Operation> {
  serverServerOperations ??= loadOperations(SERVER_SERVER_DIR);
  return serverServerOperations;
}

function loadOperations(dir: string): Map<string, Operation> {
  if (!existsSync(dir)) {
    throw new Error(`Matrix spec data not found at ${SPEC_DIR}`);
  }
  const found = new Map<string, Operation>();
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.yaml')) continue;
    const file = path.join(dir, name);
    const doc = loadFile(file);
    if (!isObject(doc) || !isObject(doc.paths)) continue;
    const servers = doc.servers;
    const server = Array.isArray(servers) ? servers[0] : undefined;
    const variables = isObject(server) && isObject(server.variables) ? server.variables : {};
    const basePathVar = variables.basePath;
    const basePath =
      isObject(basePathVar) && typeof basePathVar.default === 'string' ? basePathVar.default : '';
    for (const [pathKey, rawItem] of Object.entries(doc.paths)) {
      const item = derefObject(rawItem, file);
      if (!isObject(item.node)) continue;
      for (const [method, op] of Object.entries(item.node)) {
        if (!HTTP_METHODS.includes(method) || !isObject(op)) continue;
        const fullPath = basePath + pathKey;
        const key = opKey(method, fullPath);
        if (found.has(key)) throw new Error(`Operation ${key} defined twice in the spec data`);
        found.set(key, { method: method.toUpperCase(), fullPath, file: item.file, node: op });
      }
    }
  }
  return found;
}

/** `METHOD /full/path` of every Client-Server operation in the spec data. */
export function specOperationKeys(): string[] {
  return [...allOperations().keys()];
}

// ---------------------------------------------------------------------------
// Ajv

const UNPADDED_BASE64 = /^[A-Za-z0-9+/]*$/;
const URLSAFE_UNPADDED_BASE64 = /^[A-Za-z0-9_-]*$/;
// Appendices, "Server name": hostname, IPv4 literal or bracketed IPv6 literal, optional port.
const SERVER_NAME =
  /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[A-Za-z0-9.-]{1,255})(?::[0-9]{1,5})?$/;
// Appendices, "User Identifiers": historical localparts allow 0x21–0x39 and 0x3B–0x7E.
const USER_ID = /^@([\x21-\x39\x3B-\x7E]+):(.+)$/;
const ROOM_ALIAS = /^#([^:]+):(.+)$/;

/** The custom `format`s of string-formats.yaml, checked as strictly as the appendices allow. */
const MATRIX_FORMATS: Record<string, (value: string) => boolean> = {
  'mx-server-name': (v) => SERVER_NAME.test(v),
  'mx-user-id': (v) => {
    const m = USER_ID.exec(v);
    return !!m && Buffer.byteLength(v) <= 255 && SERVER_NAME.test(m[2] as string);
  },
  'mx-room-alias': (v) => {
    const m = ROOM_ALIAS.exec(v);
    return !!m && Buffer.byteLength(v) <= 255 && SERVER_NAME.test(m[2] as string);
  },
  // Room IDs lost their server part in room version 12; event IDs never had a fixed one.
  'mx-room-id': (v) => /^!.+/.test(v),
  'mx-event-id': (v) => /^\$.+/.test(v),
  'mx-mxc-uri': (v) => {
    const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(v);
    return !!m && SERVER_NAME.test(m[1] as string);
  },
  'mx-unpadded-base64': (v) => UNPADDED_BASE64.test(v) && v.length % 4 !== 1,
  'mx-urlsafe-unpadded-base64': (v) => URLSAFE_UNPADDED_BASE64.test(v) && v.length % 4 !== 1,
};

const ajv = new Ajv2020({ strict: false, allErrors: true, verbose: false });
addFormats(ajv);
for (const [name, validate] of Object.entries(MATRIX_FORMATS)) {
  ajv.addFormat(name, { type: 'string', validate });
}

const validators = new Map<string, ValidateFunction>();

function compile(cacheKey: string, schema: Json, file: string): ValidateFunction {
  let validate = validators.get(cacheKey);
  if (!validate) {
    validate = ajv.compile(bundleSchema(schema, file));
    validators.set(cacheKey, validate);
  }
  return validate;
}

/**
 * The compiled schema of the `application/json` response `status` of
 * `method pathTemplate`; throws if the spec defines none.
 */
export function responseValidator(
  method: string,
  pathTemplate: string,
  status: number | string,
): ValidateFunction {
  const key = opKey(method, pathTemplate);
  const cacheKey = `${key} ${status}`;
  const cached = validators.get(cacheKey);
  if (cached) return cached;
  const op = allOperations().get(key) ?? allServerServerOperations().get(key);
  if (!op) throw new Error(`The Matrix spec has no operation ${key}`);
  const responses = derefObject(op.node.responses ?? null, op.file);
  if (!isObject(responses.node)) throw new Error(`The Matrix spec lists no responses for ${key}`);
  const rawResponse = responses.node[String(status)];
  if (rawResponse === undefined) {
    throw new Error(
      `The Matrix spec has no ${status} response for ${key} (it has ${Object.keys(responses.node).join(', ')})`,
    );
  }
  const response = derefObject(rawResponse, responses.file);
  const content = isObject(response.node) ? response.node.content : undefined;
  const media = isObject(content) ? content['application/json'] : undefined;
  if (media === undefined) {
    throw new Error(`The Matrix spec has no application/json body for ${key} ${status}`);
  }
  const mediaNode = derefObject(media, response.file);
  const schema = isObject(mediaNode.node) ? mediaNode.node.schema : undefined;
  if (schema === undefined) {
    throw new Error(`The Matrix spec has no schema for ${key} ${status}`);
  }
  return compile(cacheKey, schema, mediaNode.file);
}

/** The compiled schema of a spec file (or a fragment of one), e.g. `definitions/errors/error.yaml`. */
export function definitionValidator(ref: string): ValidateFunction {
  // Resolved as if from a file of api/client-server, like the refs inside the spec.
  const fakeFile = path.join(CLIENT_SERVER_DIR, '(root)');
  resolveRef(ref, fakeFile); // a bad ref fails here, loudly
  return compile(`definition ${ref}`, { $ref: ref }, fakeFile);
}

function check(validate: ValidateFunction, body: unknown, what: string): void {
  if (validate(body)) return;
  const problems = (validate.errors ?? [])
    .map((e) => `  ${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
    .join('\n');
  throw new assert.AssertionError({
    message: `${what} does not match the Matrix spec:\n${problems}\nbody: ${truncate(JSON.stringify(body))}`,
    actual: body,
    expected: what,
    operator: 'matchesSpecSchema',
  });
}

function truncate(text: string | undefined, max = 2000): string {
  if (text === undefined) return 'undefined';
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/**
 * Asserts that `body` is what the spec allows for `method pathTemplate` with
 * `status`. `pathTemplate` is the spec's full path, e.g.
 * `/_matrix/client/v3/devices/{deviceId}`. Throws (not an assertion failure)
 * when the spec has no schema for it, so a typo cannot pass silently.
 */
export function assertResponseMatchesSpec(
  method: string,
  pathTemplate: string,
  status: number,
  body: unknown,
): void {
  const validate = responseValidator(method, pathTemplate, status);
  check(validate, body, `${method.toUpperCase()} ${pathTemplate} ${status} response`);
}

/** Asserts that `body` matches a spec definition, e.g. `definitions/errors/error.yaml`. */
export function assertMatchesSpecDefinition(ref: string, body: unknown): void {
  check(definitionValidator(ref), body, ref);
}

/** Asserts a Matrix error body (`definitions/errors/error.yaml`) with this errcode. */
export function assertSpecError(body: unknown, errcode?: string): void {
  assertMatchesSpecDefinition('definitions/errors/error.yaml', body);
  if (errcode !== undefined) {
    assert.equal(
      (body as { errcode: unknown }).errcode,
      errcode,
      `errcode of ${JSON.stringify(body)}`,
    );
  }
}

/** Asserts an error response: this HTTP status, and a Matrix error body with this errcode. */
export function expectError(
  res: { status: number; body: unknown },
  status: number,
  errcode: string,
): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assertSpecError(res.body, errcode);
}

/**
 * Asserts the status (200 unless told), then the body against the spec's
 * schema for `method template` with that status; returns the body.
 */
export function expectSpec<T>(
  res: { status: number; body: T },
  method: string,
  template: string,
  status = 200,
): T {
  assert.equal(res.status, status, `${method} ${template}: ${JSON.stringify(res.body)}`);
  assertResponseMatchesSpec(method, template, status, res.body);
  return res.body;
}
