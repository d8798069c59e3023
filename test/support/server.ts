/**
 * Starts a real Weft on a free port with a fresh SQLite file in a temporary
 * folder, for end-to-end tests that speak HTTP to it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { defaultConfig, mergeConfig, type Config } from '../../src/config/config.js';
import { startWeft, type Weft } from '../../src/app.js';

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

/**
 * A Weft in this process on a data folder of its own that outlives its
 * restarts: `start`, `stop` (the folder stays, for a restart or for storage
 * opened directly), `close` (stopped and the folder removed).
 */
export class InProcessServer implements TestServer {
  readonly config: Config;
  private running: Weft | undefined;
  /** The Weft of the latest start (still there once stopped, as a closed server's). */
  private latest: Weft | undefined;

  constructor(overrides: ConfigOverrides = {}) {
    this.config = testConfig(overrides);
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
    rmSync(this.config.data_dir, { recursive: true, force: true });
  }
}

export async function startTestServer(overrides: ConfigOverrides = {}): Promise<TestServer> {
  const server = new InProcessServer(overrides);
  await server.start();
  return server;
}
