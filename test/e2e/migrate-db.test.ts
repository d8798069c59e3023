/**
 * `weft migrate-db`: a server's SQLite data copied into PostgreSQL, then a
 * server on PostgreSQL serving it all (logins, rooms, history, state, media,
 * keys, push rules, pushers, account data, receipts) and continuing the
 * streams after the copied positions; and the refusals (a target with data,
 * a SQLite file in use, an outdated SQLite schema), each leaving the SQLite
 * file untouched. Needs a PostgreSQL cluster (WEFT_TEST_POSTGRES_URL) and dist/.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { startWeft, type Weft } from '../../src/app.js';
import { latestSchemaVersion } from '../../src/storage/sqlite/migrations.js';
import { Api, CLIENT_V3, DEFAULT_PASSWORD, type Session } from '../support/client.js';
import { deviceKeysFor, oneTimeKeys } from '../support/e2ee.js';
import { makeTempDir, runWeft, type TempDir } from '../support/process.js';
import { testConfig, type ConfigOverrides } from '../support/server.js';
import { createPostgresDatabase, postgresAdminUrl } from '../support/storage-backends.js';
import { UserHelpers, type SyncBody } from '../support/user-helpers.js';

const NO_CLUSTER = 'WEFT_TEST_POSTGRES_URL is not set (no PostgreSQL cluster to migrate to)';
const MEDIA_BYTES = Buffer.from('media that must survive the migration');

type Body = Record<string, unknown>;

/** What identifies the file's state: its bytes and its modification time. */
function fingerprint(file: string): { sha256: string; mtimeMs: number; size: number } {
  const stat = statSync(file);
  const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
  return { sha256, mtimeMs: stat.mtimeMs, size: stat.size };
}

async function startOn(dataDir: string, database: ConfigOverrides['database']): Promise<Weft> {
  return startWeft(testConfig({ database }, dataDir), {
    logger: pino({ level: 'silent' }),
  });
}

/** What the SQLite server stored, for the checks on the PostgreSQL server. */
interface Scenario {
  roomId: string;
  messageIds: string[];
  mediaId: string;
  oneTimeKeyIds: string[];
  deviceKeys: Body;
  /** Alice's sync token from before the migration. */
  sinceToken: string;
}

/** Users, a room with history and state, media, keys, push rules, a pusher, account data, a receipt. */
async function populate(api: Api, alice: Session, bob: Session): Promise<Scenario> {
  const helpers = new UserHelpers(api);
  const as = (who: Session) => ({ token: who.access_token });
  const roomId = await helpers.createRoom(alice, {
    name: 'Before the move',
    preset: 'private_chat',
  });
  await helpers.invite(alice, roomId, bob.user_id);
  await helpers.join(bob, roomId);
  const topic = await api.put(
    `${CLIENT_V3}/rooms/${roomId}/state/m.room.topic`,
    { topic: 'kept' },
    as(alice),
  );
  assert.equal(topic.status, 200);
  const messageIds: string[] = [];
  for (let i = 1; i <= 5; i++) messageIds.push(await helpers.send(alice, roomId, `message ${i}`));
  messageIds.push(await helpers.send(bob, roomId, 'a reply'));

  const upload = await api.post('/_matrix/media/v3/upload?filename=kept.txt', undefined, {
    ...as(alice),
    rawBody: MEDIA_BYTES,
    headers: { 'content-type': 'text/plain' },
  });
  assert.equal(upload.status, 200, JSON.stringify(upload.body));
  const mediaId = String(upload.body.content_uri).split('/').pop()!;

  const { identity, keys } = deviceKeysFor(alice);
  const otks = oneTimeKeys(alice, identity, 3);
  const keyUpload = await api.post(
    `${CLIENT_V3}/keys/upload`,
    { device_keys: keys, one_time_keys: otks },
    as(alice),
  );
  assert.equal(keyUpload.status, 200, JSON.stringify(keyUpload.body));

  const rule = await api.put(
    `${CLIENT_V3}/pushrules/global/content/migrated`,
    { pattern: 'migrated', actions: ['notify'] },
    as(alice),
  );
  assert.equal(rule.status, 200, JSON.stringify(rule.body));
  const pusher = await api.post(
    `${CLIENT_V3}/pushers/set`,
    {
      kind: 'http',
      app_id: 'org.example.migrated',
      pushkey: 'alice-key',
      app_display_name: 'Weft tests',
      device_display_name: 'Phone',
      lang: 'en',
      data: { url: 'http://127.0.0.1:9/_matrix/push/v1/notify' },
    },
    as(alice),
  );
  assert.equal(pusher.status, 200, JSON.stringify(pusher.body));

  const accountData = await api.put(
    `${CLIENT_V3}/user/${alice.user_id}/account_data/org.example.settings`,
    { theme: 'dark' },
    as(alice),
  );
  assert.equal(accountData.status, 200);
  const tag = await api.put(
    `${CLIENT_V3}/user/${alice.user_id}/rooms/${roomId}/tags/m.favourite`,
    { order: 0.5 },
    as(alice),
  );
  assert.equal(tag.status, 200);
  const receipt = await api.post(
    `${CLIENT_V3}/rooms/${roomId}/receipt/m.read/${messageIds[5]}`,
    {},
    as(alice),
  );
  assert.equal(receipt.status, 200);

  const sync = await helpers.sync(alice);
  return {
    roomId,
    messageIds,
    mediaId,
    oneTimeKeyIds: Object.keys(otks),
    deviceKeys: keys,
    sinceToken: sync.next_batch,
  };
}

/** Everything of the scenario, read back from the server on PostgreSQL. */
async function checkMigrated(api: Api, scenario: Scenario): Promise<void> {
  const helpers = new UserHelpers(api);
  const login = async (user: string) => {
    const res = await api.login(user, DEFAULT_PASSWORD);
    assert.equal(
      res.status,
      200,
      `${user} logs in with the same password: ${JSON.stringify(res.body)}`,
    );
    return res.body;
  };
  const alice = await login('alice');
  const bob = await login('bob');
  assert.equal((await api.login('alice', 'wrong password')).status, 403);
  const as = (who: Session) => ({ token: who.access_token });
  const { roomId } = scenario;

  const rooms = await api.get(`${CLIENT_V3}/joined_rooms`, as(bob));
  assert.deepEqual(rooms.body.joined_rooms, [roomId]);
  const messages = await api.get(`${CLIENT_V3}/rooms/${roomId}/messages?dir=b&limit=50`, as(alice));
  assert.equal(messages.status, 200);
  const chunk = messages.body.chunk as { event_id: string; type: string; content: Body }[];
  const timeline = chunk.filter((e) => e.type === 'm.room.message').map((e) => e.event_id);
  assert.deepEqual(timeline, [...scenario.messageIds].reverse(), 'the history, newest first');
  // The search index is rebuilt from the copied events (SQLite's FTS5 table is not copied).
  const search = await api.post(
    `${CLIENT_V3}/search`,
    { search_categories: { room_events: { search_term: 'message', order_by: 'recent' } } },
    as(alice),
  );
  const found = (
    search.body.search_categories as { room_events: { results: Body[] } }
  ).room_events.results.map((r) => (r.result as { event_id: string }).event_id);
  assert.deepEqual(found, scenario.messageIds.slice(0, 5).reverse(), 'searchable after the move');
  const topic = await api.get(`${CLIENT_V3}/rooms/${roomId}/state/m.room.topic`, as(bob));
  assert.deepEqual(topic.body, { topic: 'kept' });
  const name = await api.get(`${CLIENT_V3}/rooms/${roomId}/state/m.room.name`, as(bob));
  assert.deepEqual(name.body, { name: 'Before the move' });

  const media = await fetch(
    `${api.baseUrl}/_matrix/client/v1/media/download/localhost/${scenario.mediaId}`,
    { headers: { authorization: `Bearer ${bob.access_token}` } },
  );
  assert.equal(media.status, 200);
  assert.deepEqual(Buffer.from(await media.arrayBuffer()), MEDIA_BYTES);

  const query = await api.post(
    `${CLIENT_V3}/keys/query`,
    { device_keys: { [alice.user_id]: [] } },
    as(bob),
  );
  const devices = (query.body.device_keys as Record<string, Record<string, Body>>)[alice.user_id]!;
  const original = scenario.deviceKeys;
  const deviceId = String(original.device_id);
  assert.deepEqual(devices[deviceId]?.keys, original.keys, 'the device keys');
  const claim = await api.post(
    `${CLIENT_V3}/keys/claim`,
    { one_time_keys: { [alice.user_id]: { [deviceId]: 'signed_curve25519' } } },
    as(bob),
  );
  const claimed = Object.keys(
    (claim.body.one_time_keys as Record<string, Record<string, Body>>)[alice.user_id]![deviceId]!,
  );
  assert.deepEqual(claimed, [scenario.oneTimeKeyIds[0]], 'the oldest one-time key');

  const rule = await api.get(`${CLIENT_V3}/pushrules/global/content/migrated`, as(alice));
  assert.equal(rule.status, 200);
  assert.equal(rule.body.pattern, 'migrated');
  const pushers = await api.get(`${CLIENT_V3}/pushers`, as(alice));
  assert.deepEqual(
    (pushers.body.pushers as Body[]).map((p) => p.pushkey),
    ['alice-key'],
  );
  const settings = await api.get(
    `${CLIENT_V3}/user/${alice.user_id}/account_data/org.example.settings`,
    as(alice),
  );
  assert.deepEqual(settings.body, { theme: 'dark' });
  const tags = await api.get(`${CLIENT_V3}/user/${alice.user_id}/rooms/${roomId}/tags`, as(alice));
  assert.deepEqual(tags.body, { tags: { 'm.favourite': { order: 0.5 } } });

  const fresh = await helpers.sync(alice);
  const receipts = fresh.rooms.join[roomId]!.ephemeral.events.filter((e) => e.type === 'm.receipt');
  assert.ok(
    receipts.some((e) => scenario.messageIds[5]! in e.content),
    'the read receipt is there',
  );

  // A new message continues the event stream: a sync from the old token gets exactly it.
  const newMessage = await helpers.send(bob, roomId, 'after the move');
  const incremental = await helpers.sync<SyncBody>(alice, { since: scenario.sinceToken });
  const newEvents = incremental.rooms.join[roomId]!.timeline.events.map((e) => e.event_id);
  assert.deepEqual(newEvents, [newMessage]);
  const setting = await api.put(
    `${CLIENT_V3}/user/${alice.user_id}/account_data/org.example.later`,
    { n: 1 },
    as(alice),
  );
  assert.equal(setting.status, 200);
  const later = await helpers.sync<SyncBody>(alice, { since: scenario.sinceToken });
  assert.deepEqual(
    later.account_data.events.map((e) => e.type),
    ['org.example.later'],
    'account data positions continue after the copied ones',
  );
}

describe('weft migrate-db', { timeout: 180_000 }, () => {
  const adminUrl = postgresAdminUrl();
  const dirs: TempDir[] = [];
  const databases: { drop(): Promise<void> }[] = [];
  let sqliteDir: TempDir;
  let sqliteFile: string;
  let scenario: Scenario;

  const newDatabase = async () => {
    const database = await createPostgresDatabase(adminUrl!);
    databases.push(database);
    return database.url;
  };
  /** `weft migrate-db` on a data folder, as an operator runs it. */
  const migrate = (dataDir: string, args: string[]) =>
    runWeft(['migrate-db', ...args], {
      cwd: path.dirname(dataDir),
      env: { WEFT_CONFIG: path.join(path.dirname(dataDir), 'absent.yaml'), WEFT_DATA_DIR: dataDir },
      timeoutMs: 60_000,
    });
  const skipWithoutCluster = (t: TestContext): boolean => {
    if (adminUrl) return false;
    t.skip(NO_CLUSTER);
    return true;
  };

  before(async () => {
    if (!adminUrl) return;
    sqliteDir = makeTempDir('weft-migrate-');
    dirs.push(sqliteDir);
    const dataDir = path.join(sqliteDir.path, 'data');
    mkdirSync(dataDir);
    sqliteFile = path.join(dataDir, 'weft.db');
    const weft = await startOn(dataDir, { backend: 'sqlite' });
    try {
      const api = new Api(weft.url);
      const alice = await api.register('alice');
      const bob = await api.register('bob');
      scenario = await populate(api, alice, bob);
    } finally {
      await weft.close();
    }
  });
  after(async () => {
    for (const database of databases) await database.drop();
    for (const dir of dirs) dir.remove();
  });

  it('copies everything; a server on PostgreSQL serves it and continues the streams', async (t) => {
    if (skipWithoutCluster(t)) return;
    const before = fingerprint(sqliteFile);
    const url = await newDatabase();
    const result = await migrate(path.dirname(sqliteFile), ['--to', url]);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^events\s+\d+\s+\d+$/m, 'a row count per table');
    assert.match(result.stdout, /Sampled events: \d+, all identical/);
    assert.doesNotMatch(result.stdout, /MISMATCH/);
    assert.deepEqual(fingerprint(sqliteFile), before, 'the SQLite file is untouched');
    for (const sidecar of ['-wal', '-shm']) {
      assert.equal(existsSync(sqliteFile + sidecar), false, `no ${sidecar} left beside it`);
    }

    const weft = await startOn(path.dirname(sqliteFile), {
      backend: 'postgres',
      url,
      pool_size: 4,
    });
    try {
      await checkMigrated(new Api(weft.url), scenario);
    } finally {
      await weft.close();
    }

    // Migrating again into the same, now used, database: refused, nothing changed.
    const again = await migrate(path.dirname(sqliteFile), ['--to', url]);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /^weft: The PostgreSQL database is not empty/m);
    assert.deepEqual(fingerprint(sqliteFile), before);
  });

  it('refuses a SQLite file another process has open', async (t) => {
    if (skipWithoutCluster(t)) return;
    if (!existsSync('/proc/locks')) {
      t.skip('no /proc/locks: locks of other processes are not visible here');
      return;
    }
    const before = fingerprint(sqliteFile);
    const holder = new Database(sqliteFile, { readonly: true });
    try {
      holder.prepare('SELECT COUNT(*) FROM events').get(); // Opened in WAL mode: locks held.
      const result = await migrate(path.dirname(sqliteFile), ['--to', await newDatabase()]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stderr, /is open in another process \(pid \d+\): stop Weft first/);
    } finally {
      holder.close();
    }
    assert.deepEqual(fingerprint(sqliteFile), before);
  });

  it('refuses a SQLite schema older than this Weft knows', async (t) => {
    if (skipWithoutCluster(t)) return;
    const dir = makeTempDir('weft-migrate-old-');
    dirs.push(dir);
    const dataDir = path.join(dir.path, 'data');
    mkdirSync(dataDir);
    const oldFile = path.join(dataDir, 'weft.db');
    copyFileSync(sqliteFile, oldFile);
    const db = new Database(oldFile);
    try {
      db.prepare('DELETE FROM schema_version WHERE version = ?').run(latestSchemaVersion);
    } finally {
      db.close();
    }
    const result = await migrate(dataDir, ['--to', await newDatabase()]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stderr,
      /schema version \d+, this Weft's is \d+: start this Weft once on it/,
    );
  });

  it('needs a target', async (t) => {
    if (skipWithoutCluster(t)) return;
    const result = await migrate(path.dirname(sqliteFile), []);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^weft: migrate-db needs --to postgres:\/\//m);
  });
});
