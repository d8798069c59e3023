/**
 * The push gateway call refuses private and loopback addresses unless the
 * config allows them (`push.ip_range_whitelist`), and follows no redirect:
 * checked against a real gateway on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AddressPolicy } from '../../src/net/address-rules.js';
import { sendToGateway } from '../../src/push/push-gateway.js';

describe('sendToGateway and addresses', () => {
  let server: Server;
  let base: string;
  let received = 0;
  before(async () => {
    server = createServer((req, res) => {
      received++;
      if (req.url === '/moved') {
        res.writeHead(302, { location: 'http://127.0.0.1:1/_matrix/push/v1/notify' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ rejected: ['gone'] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const body = { notification: { devices: [] } };
  const signal = new AbortController().signal;

  it('refuses loopback by default, without connecting', async () => {
    const outcome = await sendToGateway(
      `${base}/_matrix/push/v1/notify`,
      body,
      new AddressPolicy(),
      signal,
    );
    assert.equal(outcome.ok, false);
    assert.match((outcome as { reason: string }).reason, /blocked/i);
    assert.equal(received, 0);
  });

  it('reaches it when the range is allowed, and reads the rejected pushkeys', async () => {
    const policy = new AddressPolicy({ allowed: ['127.0.0.0/8'] });
    const outcome = await sendToGateway(`${base}/_matrix/push/v1/notify`, body, policy, signal);
    assert.deepEqual(outcome, { ok: true, rejected: ['gone'] });
  });

  it('takes a redirect as a failure, not a new address', async () => {
    const policy = new AddressPolicy({ allowed: ['127.0.0.0/8'] });
    const outcome = await sendToGateway(`${base}/moved`, body, policy, signal);
    assert.deepEqual(outcome, { ok: false, reason: 'HTTP 302' });
  });
});
