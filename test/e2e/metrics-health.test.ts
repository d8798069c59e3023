/**
 * GET /health on the client listener, and the Prometheus metrics on a
 * listener of their own: absent unless enabled; when enabled, requests are
 * counted by route template (never the raw path: no room IDs, no tokens),
 * long-polls and persisted events too, and close() stops the listener.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { CLIENT_V3, expectError, serverSuite, withServer, SYNC } from '../support/fixture.js';

const SEND_ROUTE = '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId';

/** A port nothing listens on (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether anything accepts a connection on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The value of one series in a text exposition, undefined when absent. */
function seriesValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(metricsUrl: string | undefined): Promise<string> {
  assert.ok(metricsUrl, 'the metrics listener is up');
  const res = await fetch(`${metricsUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('health', () => {
  const suite = serverSuite();
  const { api } = suite;

  it('GET /health is 200 OK in plain text, without auth; HEAD too', async () => {
    const res = await fetch(`${api.baseUrl}/health`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await res.text(), 'OK');
    const head = await fetch(`${api.baseUrl}/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    expectError(await api.post('/health', {}), 405, 'M_UNRECOGNIZED');
  });

  it('is 503 Service Unavailable while the database does not answer', async () => {
    const storage = suite.server.weft.storage;
    const ping = storage.ping;
    storage.ping = async () => {
      throw new Error('database unreachable');
    };
    try {
      const res = await fetch(`${api.baseUrl}/health`);
      assert.equal(res.status, 503);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(await res.text(), 'Service Unavailable');
    } finally {
      storage.ping = ping;
    }
    assert.equal((await fetch(`${api.baseUrl}/health`)).status, 200);
  });
});

describe('metrics', () => {
  it('are off by default: no listener, and /metrics is no route of the client port', async () => {
    const port = await freePort();
    await withServer(
      async (fixture) => {
        assert.equal(fixture.server.weft.metricsUrl, undefined);
        assert.equal(await listening(port), false);
        expectError(await fixture.api.get('/metrics'), 404, 'M_UNRECOGNIZED');
      },
      { config: { metrics: { enabled: false, port } } },
    );
  });

  describe('when enabled', () => {
    const suite = serverSuite({ metrics: { enabled: true, port: 0 } });
    const { api } = suite;
    const alice = suite.user('alice');
    const metricsUrl = () => suite.server.weft.metricsUrl;

    it('count requests by route template, never the raw path, room ID or token', async () => {
      const roomId = await suite.createRoom(alice);
      await suite.send(alice, roomId, 'hello');
      await suite.send(alice, roomId, 'again');
      // A token in the query string, on a path no route serves.
      const unknown = await api.get(
        `/_matrix/client/v3/nope/${roomId}?access_token=${alice.access_token}`,
      );
      expectError(unknown, 404, 'M_UNRECOGNIZED');

      const text = await scrape(metricsUrl());
      const sends = `weft_http_requests_total{method="PUT",route="${SEND_ROUTE}",status="200"}`;
      assert.equal(seriesValue(text, sends), 2, text);
      assert.ok(
        text.includes(
          `weft_http_request_duration_seconds_count{method="PUT",route="${SEND_ROUTE}"} 2`,
        ),
      );
      const unmatched = 'weft_http_requests_total{method="GET",route="unmatched",status="404"}';
      assert.equal(seriesValue(text, unmatched), 1);
      assert.ok(!text.includes(roomId), 'no room ID');
      assert.ok(!text.includes(encodeURIComponent(roomId)), 'no encoded room ID');
      assert.ok(!text.includes(alice.access_token), 'no access token');
      assert.ok(!text.includes('/nope'), 'no raw path');
      // The client port's /metrics is a 404 like any unknown path.
      expectError(await api.get('/metrics'), 404, 'M_UNRECOGNIZED');
    });

    it('count persisted events and include the default process metrics', async () => {
      const before = seriesValue(await scrape(metricsUrl()), 'weft_events_persisted_total') ?? 0;
      const roomId = await suite.createRoom(alice);
      await suite.send(alice, roomId, 'one more');
      const text = await scrape(metricsUrl());
      const after = seriesValue(text, 'weft_events_persisted_total') ?? 0;
      // The room's creation events and the message.
      assert.ok(after >= before + 2, `${before} → ${after}`);
      assert.ok((seriesValue(text, 'weft_event_persist_duration_seconds_count') ?? 0) >= after);
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
      ]) {
        assert.ok(seriesValue(text, name) !== undefined, name);
      }
    });

    it('show the long-polls waiting', async () => {
      const { next_batch: since } = await suite.sync(alice);
      const wakeUps = seriesValue(await scrape(metricsUrl()), 'weft_notifier_wakeups_total');
      assert.ok(wakeUps !== undefined, 'weft_notifier_wakeups_total');
      assert.equal(seriesValue(await scrape(metricsUrl()), 'weft_sync_long_polls_in_flight'), 0);
      const poll = api.get(`${SYNC}?since=${since}&timeout=20000`, { token: alice.access_token });
      let waiting = 0;
      for (let i = 0; i < 100 && waiting === 0; i++) {
        waiting = seriesValue(await scrape(metricsUrl()), 'weft_sync_long_polls_in_flight') ?? 0;
        if (waiting === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(waiting, 1);
      // A new room wakes it.
      await suite.createRoom(alice);
      assert.equal((await poll).status, 200);
      const after = await scrape(metricsUrl());
      assert.equal(seriesValue(after, 'weft_sync_long_polls_in_flight'), 0);
      assert.ok((seriesValue(after, 'weft_notifier_wakeups_total') ?? 0) >= wakeUps + 1);
    });

    it('time database round trips, count cache lookups and show the push queues', async () => {
      const roomId = await suite.createRoom(alice);
      await suite.send(alice, roomId, 'measured');
      await suite.sync(alice);
      await suite.sync(alice);
      const text = await scrape(metricsUrl());
      // SQLite's writer thread stores the events; PostgreSQL runs every statement as a query.
      const kind = suite.server.config.database.backend === 'postgres' ? 'query' : 'writer';
      const queries = `weft_database_query_duration_seconds_count{kind="${kind}"}`;
      assert.ok((seriesValue(text, queries) ?? 0) > 0, queries);
      const lookups = (result: string) =>
        text
          .split('\n')
          .filter(
            (l) => l.startsWith('weft_cache_lookups_total{') && l.includes(`result="${result}"`),
          )
          .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
      assert.ok(lookups('hit') > 0, 'cache hits counted');
      assert.ok(lookups('miss') > 0, 'cache misses counted');
      assert.ok(
        text.includes('weft_cache_lookups_total{cache="current_state",result="hit"}'),
        text,
      );
      // Nothing is waiting by now: both gauges are there, at 0.
      assert.equal(seriesValue(text, 'weft_push_evaluation_queue_events'), 0);
      assert.equal(seriesValue(text, 'weft_pushers_running'), 0);
    });

    it('answer only GET and HEAD /metrics on their listener', async () => {
      const base = metricsUrl();
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
      assert.equal((await fetch(`${base}/other`)).status, 404);
      assert.equal((await fetch(`${base}${CLIENT_V3}/versions`)).status, 404);
    });
  });

  it('stop listening when Weft closes', async () => {
    let port = 0;
    await withServer(
      async (fixture) => {
        const url = fixture.server.weft.metricsUrl;
        assert.ok(url);
        port = Number(new URL(url).port);
        assert.notEqual(port, Number(new URL(fixture.server.url).port));
        assert.equal(await listening(port), true);
      },
      { config: { metrics: { enabled: true, port: 0 } } },
    );
    assert.equal(await listening(port), false);
  });
});
