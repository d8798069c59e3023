/** log_format: JSON by default, pretty on request (file or WEFT_LOG_FORMAT), anything else refused. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { logDestination } from '../../src/http/log-destination.js';

function withConfigFile(yaml: string, run: (file: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-log-format-'));
  try {
    const file = path.join(dir, 'weft.yaml');
    writeFileSync(file, yaml);
    run(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('log_format', () => {
  it('is json unless the file or the environment says pretty', () => {
    assert.equal(loadConfig(undefined, {}).config.log_format, 'json');
    assert.equal(loadConfig(undefined, { WEFT_LOG_FORMAT: 'pretty' }).config.log_format, 'pretty');
    withConfigFile('log_format: pretty\n', (file) => {
      assert.equal(loadConfig(file, {}).config.log_format, 'pretty');
      assert.equal(loadConfig(file, { WEFT_LOG_FORMAT: 'json' }).config.log_format, 'json');
    });
  });

  it('refuses other formats', () => {
    assert.throws(() => loadConfig(undefined, { WEFT_LOG_FORMAT: 'xml' }), ConfigError);
    withConfigFile('log_format: text\n', (file) => {
      assert.throws(() => loadConfig(file, {}), /log_format must be 'json' or 'pretty'/);
    });
  });

  it('gives pino its own stdout for json and a pino-pretty stream for pretty', () => {
    assert.equal(logDestination('json'), undefined);
    const pretty = logDestination('pretty');
    assert.equal(typeof pretty?.write, 'function');
  });
});
