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

export async function startTestServer(overrides: ConfigOverrides = {}): Promise<TestServer> {
  const config = testConfig(overrides);
  const weft = await startWeft(config, { logger: pino({ level: 'silent' }) });
  return {
    weft,
    url: weft.url,
    dataDir: config.data_dir,
    config,
    close: async () => {
      await weft.close();
      rmSync(config.data_dir, { recursive: true, force: true });
    },
  };
}
