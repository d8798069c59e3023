/**
 * The `weft` command as an operator uses it: generate-config, register-user,
 * the environment overriding the config file, and refusing a database written
 * by a newer Weft.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { isMap, isScalar, parse as parseYaml, parseDocument } from 'yaml';
import { startWeft } from '../../src/app.js';
import { defaultConfig } from '../../src/config/config.js';
import { latestSchemaVersion } from '../../src/storage/sqlite/migrations.js';
import { Api, CLIENT_V3 } from '../support/client.js';
import {
  makeTempDir,
  runWeft,
  startWeftProcess,
  type TempDir,
  type WeftProcess,
} from '../support/process.js';
import { testConfig } from '../support/server.js';

/** Dotted paths of every leaf option of a config object (arrays are leaves). */
function leafPaths(value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, child]) =>
    typeof child === 'object' && child !== null && !Array.isArray(child)
      ? leafPaths(child as object, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

interface KeyLine {
  path: string;
  /** Line of the key (0-based). */
  line: number;
  /** Lines of the keys of the sections it is in, innermost first. */
  sections: number[];
}

/** Every leaf key of a YAML document, with the line its key is on. */
function leafKeyLines(text: string): KeyLine[] {
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length - 1;
  const walk = (node: unknown, prefix: string, sections: number[]): KeyLine[] => {
    if (!isMap(node)) return [];
    return node.items.flatMap((pair) => {
      assert.ok(isScalar(pair.key) && pair.key.range, 'keys are plain scalars');
      const keyPath = `${prefix}${String(pair.key.value)}`;
      const line = lineOf(pair.key.range[0]);
      return isMap(pair.value)
        ? walk(pair.value, `${keyPath}.`, [line, ...sections])
        : [{ path: keyPath, line, sections }];
    });
  };
  return walk(parseDocument(text).contents, '', []);
}

/** The comment lines of the paragraph above `line` (up to the previous blank line). */
function paragraphComments(lines: string[], line: number): string[] {
  const comments: string[] = [];
  for (let i = line - 1; i >= 0; i--) {
    const text = lines[i]!.trim();
    if (text === '') break;
    if (text.startsWith('#')) comments.push(text);
  }
  return comments;
}

/**
 * Whether a comment explains an option: a comment right above its key, or a
 * comment of its paragraph or of an enclosing section that names it (bind and
 * port share one; the rate_limits comment explains per_second and burst_count).
 */
function hasComment(lines: string[], key: KeyLine): boolean {
  if (lines[key.line - 1]?.trim().startsWith('#')) return true;
  const name = key.path.split('.').pop()!;
  const comments = [key.line, ...key.sections].flatMap((line) => paragraphComments(lines, line));
  return comments.some((comment) => new RegExp(`\\b${name}\\b`).test(comment));
}

function readUsers(dataDir: string): { user_id: string; is_admin: number }[] {
  const db = new Database(path.join(dataDir, 'weft.db'), { readonly: true });
  try {
    return db.prepare('SELECT user_id, is_admin FROM users ORDER BY user_id').all() as {
      user_id: string;
      is_admin: number;
    }[];
  } finally {
    db.close();
  }
}

describe('weft command', { timeout: 120_000 }, () => {
  const dirs: TempDir[] = [];
  const servers: WeftProcess[] = [];
  const tempDir = () => {
    const dir = makeTempDir('weft-cli-');
    dirs.push(dir);
    return dir;
  };
  after(async () => {
    for (const server of servers) await server.kill();
    for (const dir of dirs) dir.remove();
  });

  it('generate-config writes every option with a comment, and never overwrites', async () => {
    const dir = tempDir();
    const file = path.join(dir.path, 'conf', 'weft.yaml');
    const result = await runWeft(['generate-config', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Wrote .*weft\.yaml/);
    const text = readFileSync(file, 'utf8');

    const parsed = parseYaml(text) as object;
    assert.deepEqual(leafPaths(parsed).sort(), leafPaths(defaultConfig()).sort());
    // Without WEFT_* variables, the file holds exactly the defaults.
    assert.deepEqual(parsed, defaultConfig());

    const lines = text.split('\n');
    const keyLines = leafKeyLines(text);
    assert.equal(keyLines.length, leafPaths(defaultConfig()).length);
    for (const key of keyLines) {
      assert.ok(hasComment(lines, key), `${key.path} (line ${key.line + 1}) has no comment`);
    }

    // A second run refuses, and leaves the (edited) file alone.
    writeFileSync(file, `${text}# edited by hand\n`);
    const again = await runWeft(['generate-config', '--config', file], { cwd: dir.path });
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /exists already/);
    assert.ok(again.stderr.includes(file), again.stderr);
    assert.equal(readFileSync(file, 'utf8'), `${text}# edited by hand\n`);
  });

  it('register-user creates users the server lets log in, with --admin and from stdin', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir.path, 'data');
    const env = { WEFT_CONFIG: path.join(dir.path, 'weft.yaml'), WEFT_DATA_DIR: dataDir };

    const bob = await runWeft(['register-user', '--user', 'bob', '--password', 'pw'], {
      cwd: dir.path,
      env,
    });
    assert.equal(bob.code, 0, bob.stderr);
    assert.match(bob.stdout, /Created user @bob:localhost/);
    assert.ok(existsSync(env.WEFT_CONFIG), 'the first command writes a config file');

    const root = await runWeft(
      ['register-user', '--user', 'root', '--password', 'root-pw', '--admin'],
      { cwd: dir.path, env },
    );
    assert.equal(root.code, 0, root.stderr);
    assert.match(root.stdout, /Created admin user @root:localhost/);

    // No --password: it is read from stdin.
    const carol = await runWeft(['register-user', '--user', 'carol'], {
      cwd: dir.path,
      env,
      input: 'carol-stdin-pw\n',
    });
    assert.equal(carol.code, 0, carol.stderr);
    assert.match(carol.stdout, /Created user @carol:localhost/);

    // The same user twice: refused.
    const twice = await runWeft(['register-user', '--user', 'bob', '--password', 'other'], {
      cwd: dir.path,
      env,
    });
    assert.notEqual(twice.code, 0);
    assert.match(twice.stderr, /M_USER_IN_USE/);

    assert.deepEqual(readUsers(dataDir), [
      { user_id: '@bob:localhost', is_admin: 0 },
      { user_id: '@carol:localhost', is_admin: 0 },
      { user_id: '@root:localhost', is_admin: 1 },
    ]);

    const weft = await startWeft(testConfig({}, dataDir), { logger: pino({ level: 'silent' }) });
    try {
      const api = new Api(weft.url);
      const login = await api.login('bob', 'pw');
      assert.equal(login.status, 200, JSON.stringify(login.body));
      assert.equal(login.body.user_id, '@bob:localhost');
      const whoami = await api.get(`${CLIENT_V3}/account/whoami`, {
        token: login.body.access_token,
      });
      assert.equal(whoami.body.user_id, '@bob:localhost');
      // The password given with the twice-refused registration did not replace bob's.
      assert.equal((await api.login('bob', 'other')).status, 403);
      assert.equal((await api.login('root', 'root-pw')).status, 200);
      const carolLogin = await api.login('carol', 'carol-stdin-pw');
      assert.equal(carolLogin.status, 200);
      assert.equal(carolLogin.body.user_id, '@carol:localhost');
    } finally {
      await weft.close();
    }
  });

  it('register-user refuses invalid input with a non-zero exit and a clear message', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir.path, 'data');
    const env = { WEFT_CONFIG: path.join(dir.path, 'weft.yaml'), WEFT_DATA_DIR: dataDir };
    const run = (args: string[]) => runWeft(['register-user', ...args], { cwd: dir.path, env });

    const badName = await run(['--user', 'Bad Name!', '--password', 'pw']);
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /^weft: M_INVALID_USERNAME: Username may only contain/m);

    const reserved = await run(['--user', '_reserved', '--password', 'pw']);
    assert.equal(reserved.code, 1);
    assert.match(reserved.stderr, /M_INVALID_USERNAME: Username may not begin with _/);

    const noUser = await run(['--password', 'pw']);
    assert.equal(noUser.code, 1);
    assert.match(noUser.stderr, /register-user needs --user NAME/);

    // A mistyped option is a usage error too: one line, no stack trace.
    const typo = await run(['--usr', 'bob', '--password', 'pw']);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /^weft: Unknown option '--usr'/);
    assert.doesNotMatch(typo.stderr, /\n\s+at /);

    const unknown = await runWeft(['frobnicate'], { cwd: dir.path, env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Unknown command 'frobnicate'/);

    // Nothing was created by the refused commands.
    const created = existsSync(path.join(dataDir, 'weft.db')) ? readUsers(dataDir) : [];
    assert.deepEqual(created, []);
  });

  it('refuses a broken config file or environment with a clear message', async () => {
    const dir = tempDir();
    const file = path.join(dir.path, 'weft.yaml');
    writeFileSync(file, 'prot: 8008\n');
    const badOption = await runWeft(['start'], {
      cwd: dir.path,
      env: { WEFT_CONFIG: file, WEFT_PORT: '0' },
    });
    assert.equal(badOption.code, 1);
    assert.match(badOption.stderr, /unknown option 'prot'/);

    writeFileSync(file, '');
    const badPort = await runWeft(['start'], {
      cwd: dir.path,
      env: { WEFT_CONFIG: file, WEFT_PORT: 'eighty' },
    });
    assert.equal(badPort.code, 1);
    assert.match(badPort.stderr, /WEFT_PORT must be a port number, got 'eighty'/);
  });

  it('lets environment variables win over the config file', async () => {
    const dir = tempDir();
    const file = path.join(dir.path, 'weft.yaml');
    const dataDir = path.join(dir.path, 'from-file-data');
    writeFileSync(
      file,
      [
        'server_name: a.example',
        'port: 1234',
        `data_dir: ${JSON.stringify(dataDir)}`,
        'registration:',
        '  enabled: false',
        '',
      ].join('\n'),
    );
    const env = { WEFT_CONFIG: file, WEFT_SERVER_NAME: 'b.example', WEFT_PORT: '0' };

    const erin = await runWeft(['register-user', '--user', 'erin', '--password', 'erin-pw'], {
      cwd: dir.path,
      env,
    });
    assert.equal(erin.code, 0, erin.stderr);
    assert.match(erin.stdout, /Created user @erin:b\.example/);
    // data_dir, which no variable overrides, comes from the file.
    assert.ok(existsSync(path.join(dataDir, 'weft.db')));

    const server = await startWeftProcess({ cwd: dir.path, env });
    servers.push(server);
    const listening = server.logLines().find((line) => line.msg === 'Weft is listening');
    assert.equal(listening?.server_name, 'b.example');
    assert.notEqual(new URL(server.url).port, '1234');

    const api = new Api(server.url);
    const login = await api.login('erin', 'erin-pw');
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.user_id, '@erin:b.example');
    const whoami = await api.get(`${CLIENT_V3}/account/whoami`, {
      token: login.body.access_token,
    });
    assert.equal(whoami.body.user_id, '@erin:b.example');
    // registration.enabled: false from the file still applies.
    const register = await api.post(`${CLIENT_V3}/register`, {
      username: 'frank',
      password: 'frank-pw',
      auth: { type: 'm.login.dummy' },
    });
    assert.equal(register.status, 403);

    assert.equal((await server.stop()).code, 0);
  });

  it('refuses to start on a database written by a newer Weft', async () => {
    const dir = tempDir();
    const dataDir = path.join(dir.path, 'data');
    const env = {
      WEFT_CONFIG: path.join(dir.path, 'weft.yaml'),
      WEFT_DATA_DIR: dataDir,
      WEFT_PORT: '0',
    };
    const created = await runWeft(['register-user', '--user', 'old', '--password', 'pw'], {
      cwd: dir.path,
      env,
    });
    assert.equal(created.code, 0, created.stderr);

    const future = latestSchemaVersion + 1;
    const db = new Database(path.join(dataDir, 'weft.db'));
    try {
      db.prepare('INSERT INTO schema_version (version, applied_ts) VALUES (?, ?)').run(
        future,
        Date.now(),
      );
    } finally {
      db.close();
    }

    const start = await runWeft(['start'], { cwd: dir.path, env, timeoutMs: 20_000 });
    assert.equal(start.code, 1, `${start.stdout}\n${start.stderr}`);
    assert.doesNotMatch(start.stdout, /Weft is listening/);
    assert.ok(
      start.stderr.includes(`version ${future}`) &&
        start.stderr.includes(`versions up to ${latestSchemaVersion}`),
      start.stderr,
    );
    assert.match(start.stderr, /^weft: The database schema is at version/m);

    // The database is left as it was: still marked with the newer version.
    const check = new Database(path.join(dataDir, 'weft.db'), { readonly: true });
    try {
      const row = check.prepare('SELECT MAX(version) AS v FROM schema_version').get() as {
        v: number;
      };
      assert.equal(row.v, future);
    } finally {
      check.close();
    }
  });
});
