/**
 * The one fixture of the e2e suites: a test server (test/support/server.ts)
 * with its Api client (client.ts), users, and the room helpers of
 * user-helpers.ts, so that a test file holds only its scenario.
 *
 *   describe('rooms', () => {
 *     const suite = serverSuite({ registration: { enabled: true } }); // config overrides
 *     const { api } = suite;             // usable at once; it reaches the server once started
 *     const alice = suite.user('alice'); // registered before the tests
 *     it('...', async () => {
 *       const roomId = await suite.createRoom(alice, { preset: 'public_chat' });
 *       const bob = await suite.register('bob'); // registered now
 *       await suite.join(bob, roomId);
 *       await suite.send(bob, roomId, 'hello');
 *       expectError(await api.get(...), 403, 'M_FORBIDDEN');
 *     });
 *   });
 *
 * A test that needs a server of its own (other config, restarts, storage
 * opened between two runs) uses `withServer`, which always removes it.
 */
import { after, before } from 'node:test';
import { Api, DEFAULT_PASSWORD, type Session } from './client.js';
import { InProcessServer, type ConfigOverrides } from './server.js';
import { UserHelpers } from './user-helpers.js';

export { Api, CLIENT_V3, DEFAULT_PASSWORD } from './client.js';
export type { ApiResponse, RequestOptions, Session } from './client.js';
export { InProcessServer, testConfig, type ConfigOverrides, type TestServer } from './server.js';
export {
  assertMatchesSpecDefinition,
  assertResponseMatchesSpec,
  assertSpecError,
  expectError,
  expectSpec,
} from './spec-schemas.js';
export { ephemeralOf, SYNC, UserHelpers } from './user-helpers.js';
export type { Body, JoinedSection, SyncBody, SyncEvent } from './user-helpers.js';

export interface UserOptions {
  password?: string;
  /** More fields of the registration request (e.g. `auth` for a registration token). */
  extra?: Record<string, unknown>;
}

/**
 * A test server with its client and helpers. The server is made by `setUp`
 * (which `serverSuite` and `withServer` call), so the fixture, its `api` and
 * the sessions of `user` can be named before it runs.
 */
export class Fixture extends UserHelpers {
  private readonly current: { server?: InProcessServer };
  private readonly declared: { session: Session; name: string; options: UserOptions }[] = [];
  private unnamed = 0;

  constructor(private readonly overrides: ConfigOverrides = {}) {
    const current: { server?: InProcessServer } = {};
    const api = new Api(() => {
      if (!current.server) throw new Error('The suite has not started yet');
      return current.server.url;
    });
    // `api` (from UserHelpers): the client of this fixture's server, across restarts.
    super(api);
    this.current = current;
  }

  /** The running server: its Weft (storage, keys), URL, config and data folder. */
  get server(): InProcessServer {
    if (!this.current.server) throw new Error('The suite has not started yet');
    return this.current.server;
  }

  /**
   * A user registered once the server has started, before the tests (in the
   * order named); the session's fields can be read from then on.
   */
  user(name = this.uniqueName(), options: UserOptions = {}): Session {
    const session = {} as Session;
    for (const key of ['user_id', 'access_token', 'device_id'] as const) {
      Object.defineProperty(session, key, {
        configurable: true,
        enumerable: true,
        get: () => {
          throw new Error(`${name} is registered once the suite has started`);
        },
      });
    }
    this.declared.push({ session, name, options });
    return session;
  }

  /** `user` for each name, in order: `const [alice, bob] = suite.users('alice', 'bob')`. */
  users<const Names extends readonly string[]>(...names: Names): { [K in keyof Names]: Session } {
    return names.map((name) => this.user(name)) as { [K in keyof Names]: Session };
  }

  /** Registers a user now (the dummy UIA flow; anything but 200 throws). */
  register(
    name = this.uniqueName(),
    password = DEFAULT_PASSWORD,
    extra: Record<string, unknown> = {},
  ): Promise<Session> {
    return this.api.register(name, password, extra);
  }

  /** Makes the server and (unless `start` is false) starts it and registers the named users. */
  async setUp(start = true): Promise<void> {
    this.current.server = new InProcessServer(this.overrides);
    if (!start) return;
    await this.current.server.start();
    for (const { session, name, options } of this.declared) {
      const registered = await this.register(name, options.password, options.extra);
      for (const [key, value] of Object.entries(registered)) {
        Object.defineProperty(session, key, { value, enumerable: true, writable: true });
      }
    }
  }

  /** Stops the server and removes its data folder. */
  async tearDown(): Promise<void> {
    await this.current.server?.close();
  }

  /** A user name no other user of this fixture has. */
  private uniqueName(): string {
    return `user-${++this.unnamed}`;
  }
}

/**
 * The fixture of the enclosing describe: the server starts (and the named
 * users register) before its tests, and is closed after them.
 */
export function serverSuite(overrides: ConfigOverrides = {}): Fixture {
  const fixture = new Fixture(overrides);
  before(() => fixture.setUp());
  after(() => fixture.tearDown());
  return fixture;
}

/**
 * Runs `test` with a server of its own, removed afterwards whatever happens.
 * With `start: false` the server is made but not started: `test` prepares its
 * data folder, then calls `fixture.server.start()`.
 */
export async function withServer<T>(
  test: (fixture: Fixture) => Promise<T>,
  options: { config?: ConfigOverrides; start?: boolean } = {},
): Promise<T> {
  const fixture = new Fixture(options.config);
  try {
    await fixture.setUp(options.start ?? true);
    return await test(fixture);
  } finally {
    await fixture.tearDown();
  }
}
