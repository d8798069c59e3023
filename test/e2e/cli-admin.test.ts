/**
 * The operator's commands (reset-password, deactivate, list-users,
 * make-admin, ...) on a stopped server, where they open the storage, and on a
 * running one, where they go through its Admin API with an admin's token;
 * and `--help` on every command.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Api, CLIENT_V3 } from '../support/client.js';
import { makeTempDir, runWeft, startWeftProcess, type WeftProcess } from '../support/process.js';
import { testDatabase } from '../support/server.js';

/** A port nothing listens on now (the stopped server's, then the running one's). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const COMMANDS = [
  'start',
  'generate-config',
  'register-user',
  'migrate-db',
  'reset-password',
  'deactivate',
  'list-users',
  'make-admin',
  'create-registration-token',
  'delete-room',
];

describe('weft operator commands', { timeout: 180_000 }, () => {
  const dir = makeTempDir('weft-cli-admin-');
  let env: Record<string, string>;
  let drop = async () => {};
  let server: WeftProcess | undefined;
  let api: Api;

  const weft = (args: string[], extra: Record<string, string> = {}) =>
    runWeft(args, { cwd: dir.path, env: { ...env, ...extra } });
  const ok = async (args: string[], extra: Record<string, string> = {}) => {
    const result = await weft(args, extra);
    assert.equal(result.code, 0, `weft ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  /** list-users' lines as [user ID, flags]. */
  const listed = async (extra: Record<string, string> = {}) =>
    (await ok(['list-users', '--deactivated'], extra))
      .trim()
      .split('\n')
      .map((line) => line.split('\t').slice(0, 2));

  before(async () => {
    const database = await testDatabase();
    drop = database.drop;
    const url = database.overrides.database?.url;
    env = {
      WEFT_CONFIG: path.join(dir.path, 'weft.yaml'),
      WEFT_DATA_DIR: path.join(dir.path, 'data'),
      WEFT_PORT: String(await freePort()),
      // The tests log in more often than login_per_ip allows.
      WEFT_RATE_LIMITS: 'off',
      ...(url ? { WEFT_DATABASE_URL: url } : {}),
    };
    for (const [name, admin] of [
      ['root', true],
      ['alice', false],
      ['bob', false],
      ['carol', false],
    ] as const) {
      await ok([
        'register-user',
        '--user',
        name,
        '--password',
        `${name}-pw`,
        ...(admin ? ['--admin'] : []),
      ]);
    }
  });
  after(async () => {
    await server?.stop();
    await drop();
    dir.remove();
  });

  it('prints each command’s usage with --help and exits 0', async () => {
    for (const command of COMMANDS) {
      const result = await weft([command, '--help']);
      assert.equal(result.code, 0, `${command}: ${result.stderr}`);
      assert.match(result.stdout, new RegExp(`^Usage: weft ${command}\\b`), command);
    }
    const main = await ok(['--help']);
    for (const command of COMMANDS) assert.match(main, new RegExp(`\\b${command}\\b`));
  });

  it('lists users and changes the admin flag on a stopped server', async () => {
    assert.deepEqual(await listed(), [
      ['@alice:localhost', '-'],
      ['@bob:localhost', '-'],
      ['@carol:localhost', '-'],
      ['@root:localhost', 'admin'],
    ]);
    assert.match(await ok(['make-admin', '--user', 'alice']), /@alice:localhost is now an admin/);
    assert.deepEqual((await listed())[0], ['@alice:localhost', 'admin']);
    await ok(['make-admin', '--user', '@alice:localhost', '--revoke']);
    assert.deepEqual((await listed())[0], ['@alice:localhost', '-']);
    const unknown = await weft(['make-admin', '--user', 'nobody']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /M_NOT_FOUND/);
  });

  it('resets a password and deactivates a user on a stopped server', async () => {
    await ok(['reset-password', '--user', 'bob', '--password', 'bob-new-pw']);
    assert.match(await ok(['deactivate', '--user', 'carol']), /Deactivated @carol:localhost/);
    assert.deepEqual((await listed())[2], ['@carol:localhost', 'deactivated']);
    const missing = await weft(['reset-password', '--user', 'bob']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /--password/);
    // Erasing writes member events: only the running server writes events.
    const erase = await weft(['deactivate', '--user', 'bob', '--erase']);
    assert.equal(erase.code, 1);
    assert.match(erase.stderr, /start the server/);
    const registrationToken = (await ok(['create-registration-token', '--uses', '1'])).trim();
    assert.match(registrationToken, /^[A-Za-z0-9._~-]{16}$/);
    const room = await weft(['delete-room', '--room', '!unknown:localhost']);
    assert.equal(room.code, 1);
    assert.match(room.stderr, /Unknown room/);

    server = await startWeftProcess({ cwd: dir.path, env });
    api = new Api(server.url);
    const validity = await api.get(
      `/_matrix/client/v1/register/m.login.registration_token/validity?token=${registrationToken}`,
    );
    assert.deepEqual(validity.body, { valid: true });
    assert.equal((await api.login('bob', 'bob-new-pw')).status, 200);
    assert.equal((await api.login('bob', 'bob-pw')).status, 403);
    assert.equal((await api.login('carol', 'carol-pw')).status, 403);
  });

  it('refuses to write beside a running server without an admin token', async () => {
    assert.ok(server, 'the previous test started the server');
    const refused = await weft(['reset-password', '--user', 'bob', '--password', 'x-pw']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /running.*--token.*WEFT_ADMIN_TOKEN/);
    assert.equal((await api.login('bob', 'bob-new-pw')).status, 200);
    const alice = await api.login('alice', 'alice-pw');
    const notAdmin = await weft(['list-users', '--token', alice.body.access_token as string]);
    assert.equal(notAdmin.code, 1);
    assert.match(notAdmin.stderr, /403 M_FORBIDDEN/);
  });

  it('goes through the Admin API of a running server', async () => {
    const root = await api.login('root', 'root-pw');
    assert.equal(root.status, 200, JSON.stringify(root.body));
    const token = root.body.access_token as string;
    const asRoot = { WEFT_ADMIN_TOKEN: token };
    const bob = await api.login('bob', 'bob-new-pw');

    await ok(['reset-password', '--user', 'bob', '--password', 'bob-third-pw', '--token', token]);
    assert.equal((await api.login('bob', 'bob-third-pw')).status, 200);
    // The reset logged bob's devices out.
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, { token: bob.body.access_token });
    assert.equal(whoami.status, 401);

    await ok(['make-admin', '--user', 'alice'], asRoot);
    const flag = await api.get('/_synapse/admin/v1/users/%40alice%3Alocalhost/admin', { token });
    assert.deepEqual(flag.body, { admin: true });
    assert.deepEqual((await listed(asRoot))[0], ['@alice:localhost', 'admin']);

    const alice = await api.login('alice', 'alice-pw');
    await ok(['deactivate', '--user', 'alice'], asRoot);
    const gone = await api.get(`${CLIENT_V3}/account/whoami`, { token: alice.body.access_token });
    assert.equal(gone.status, 401);
    assert.equal((await api.login('alice', 'alice-pw')).status, 403);
    assert.deepEqual((await listed(asRoot))[0], ['@alice:localhost', 'admin,deactivated']);
  });

  it('stores a room deletion on a stopped server, and the server runs it at start', async () => {
    const root = await api.login('root', 'root-pw');
    const token = root.body.access_token as string;
    const created = await api.post<{ room_id: string }>(`${CLIENT_V3}/createRoom`, {}, { token });
    assert.equal(created.status, 200);
    const roomId = created.body.room_id;
    await server?.stop();
    server = undefined;
    const stored = await ok(['delete-room', '--room', roomId, '--purge']);
    const deleteId = /delete_id (\S+)\)/.exec(stored)?.[1];
    assert.ok(deleteId, stored);

    server = await startWeftProcess({ cwd: dir.path, env });
    api = new Api(server.url);
    const status = `/_synapse/admin/v2/rooms/delete_status/${deleteId}`;
    let answer: { status?: string } = {};
    for (let tries = 0; tries < 100 && answer.status !== 'complete'; tries++) {
      answer = (await api.get<{ status: string }>(status, { token })).body;
      if (answer.status !== 'complete') await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(answer.status, 'complete', JSON.stringify(answer));
    const room = await api.get(`/_synapse/admin/v1/rooms/${encodeURIComponent(roomId)}`, { token });
    assert.equal(room.status, 404);
  });
});
