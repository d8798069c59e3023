/**
 * Starts a real Weft on a free port with a fresh database (a SQLite file in a
 * temporary folder; with WEFT_TEST_DATABASE=postgres, a new database on the
 * test cluster), for end-to-end tests that speak HTTP to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { pino } from 'pino';
import { defaultConfig, mergeConfig, type Config } from '../../src/config/config.js';
import { startWeft, type Weft } from '../../src/app.js';
import { createPostgresDatabase, postgresAdminUrl } from './storage-backends.js';

/** The backend the e2e suites run on: WEFT_TEST_DATABASE=postgres (with WEFT_TEST_POSTGRES_URL) or SQLite. */
export function testDatabaseBackend(): 'sqlite' | 'postgres' {
  const wanted = process.env.WEFT_TEST_DATABASE ?? 'sqlite';
  if (wanted !== 'sqlite' && wanted !== 'postgres') {
    throw new Error(`WEFT_TEST_DATABASE must be sqlite or postgres, not ${wanted}`);
  }
  if (wanted === 'postgres' && !postgresAdminUrl()) {
    throw new Error('WEFT_TEST_DATABASE=postgres needs WEFT_TEST_POSTGRES_URL (an admin URL)');
  }
  return wanted;
}

/**
 * A fresh database for one test server: nothing for SQLite (the data folder
 * holds it); on PostgreSQL a new database, its URL in the config overrides.
 */
export async function testDatabase(): Promise<{
  overrides: ConfigOverrides;
  drop(): Promise<void>;
}> {
  if (testDatabaseBackend() === 'sqlite') return { overrides: {}, drop: async () => {} };
  const database = await createPostgresDatabase(postgresAdminUrl()!);
  return {
    overrides: { database: { backend: 'postgres', url: database.url, pool_size: 10 } },
    drop: database.drop,
  };
}

export type ConfigOverrides = Parameters<typeof mergeConfig>[1];

export interface TestServer {
  weft: Weft;
  url: string;
  dataDir: string;
  config: Config;
  close(): Promise<void>;
}

export function testConfig(overrides: ConfigOverrides = {}, dataDir?: string): Config {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'weft-test-'));
  const base = mergeConfig(defaultConfig(), {
    port: 0,
    data_dir: dir,
    log_level: 'silent',
    log_requests: false,
    rate_limits: { enabled: false },
  });
  return mergeConfig(base, overrides);
}

/** Rows of a read-only query on a test server's database, whichever backend (SQL both accept). */
export async function queryDatabase(config: Config, sql: string): Promise<unknown[]> {
  if (config.database.backend === 'postgres') {
    const client = new pg.Client({ connectionString: config.database.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }
  const db = new Database(path.join(config.data_dir, 'weft.db'), { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

/**
 * A Weft in this process on a data folder of its own that outlives its
 * restarts: `start`, `stop` (the folder stays, for a restart or for storage
 * opened directly), `close` (stopped and the folder removed).
 */
export class InProcessServer implements TestServer {
  config: Config;
  private running: Weft | undefined;
  /** The PostgreSQL database made at the first start (WEFT_TEST_DATABASE=postgres). */
  private database: Awaited<ReturnType<typeof testDatabase>> | undefined;
  /** The Weft of the latest start (still there once stopped, as a closed server's). */
  private latest: Weft | undefined;

  /** Tests of SQLite files themselves ask for `database: {backend: 'sqlite'}`: kept on any test backend. */
  private readonly sqliteAsked: boolean;

  constructor(overrides: ConfigOverrides = {}) {
    this.config = testConfig(overrides);
    this.sqliteAsked = overrides.database?.backend === 'sqlite';
  }

  get weft(): Weft {
    if (!this.latest) throw new Error('The test server has not started yet');
    return this.latest;
  }
  get url(): string {
    return this.weft.url;
  }
  get dataDir(): string {
    return this.config.data_dir;
  }

  /** Starts on the data folder, with `overrides` on the config for this run only. */
  async start(overrides: ConfigOverrides = {}): Promise<Weft> {
    if (this.running) throw new Error('The test server is already running');
    if (!this.database && !this.sqliteAsked) {
      this.database = await testDatabase();
      this.config = mergeConfig(this.config, this.database.overrides);
    }
    const config = mergeConfig(this.config, overrides);
    this.running = this.latest = await startWeft(config, { logger: pino({ level: 'silent' }) });
    return this.running;
  }

  async stop(): Promise<void> {
    const weft = this.running;
    this.running = undefined;
    await weft?.close();
  }

  async restart(overrides: ConfigOverrides = {}): Promise<Weft> {
    await this.stop();
    return this.start(overrides);
  }

  async close(): Promise<void> {
    await this.stop();
    await this.database?.drop();
    rmSync(this.config.data_dir, { recursive: true, force: true });
  }
}

export async function startTestServer(overrides: ConfigOverrides = {}): Promise<TestServer> {
  const server = new InProcessServer(overrides);
  await server.start();
  return server;
}
