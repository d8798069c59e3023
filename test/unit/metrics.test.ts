/**
 * The metrics without a server: route labels, what each observation adds to
 * the exposition, the long-poll gauge read at scrape time, the listener's
 * answers, and the `metrics` config section (checks, generated file).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { checkConfig, defaultConfig, mergeConfig, ConfigError } from '../../src/config/config.js';
import { renderConfigYaml } from '../../src/config/generate.js';
import type { EventRecord } from '../../src/storage/storage.js';
import {
  Metrics,
  type MetricsSources,
  UNMATCHED_ROUTE,
  routeLabel,
} from '../../src/metrics/metrics.js';
import { listenMetrics } from '../../src/metrics/metrics-server.js';

const ROUTE = '/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId';

function eventAt(ts: number): EventRecord {
  return { pdu: { origin_server_ts: ts } } as unknown as EventRecord;
}

/** Sources that all read 0, but for those given. */
function sources(given: Partial<MetricsSources> = {}): MetricsSources {
  return {
    longPollsWaiting: () => 0,
    notifierWakeUps: () => 0,
    pushQueueLength: () => 0,
    pushersRunning: () => 0,
    ...given,
  };
}

describe('metrics', () => {
  it('label a request by its route template, or unmatched', () => {
    assert.equal(routeLabel(ROUTE), ROUTE);
    assert.equal(routeLabel(undefined), UNMATCHED_ROUTE);
    assert.equal(routeLabel(''), UNMATCHED_ROUTE);
  });

  it('count and time requests per method, route and status', async () => {
    const metrics = new Metrics(sources());
    metrics.observeRequest('PUT', ROUTE, 200, 12);
    metrics.observeRequest('PUT', ROUTE, 200, 3000);
    metrics.observeRequest('PUT', ROUTE, 403, 1);
    metrics.observeRequest('GET', undefined, 404, 0.2);
    const { contentType, body } = await metrics.exposition();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const lines = body.split('\n');
    const has = (line: string) => assert.ok(lines.includes(line), `${line}\n${body}`);
    has(`weft_http_requests_total{method="PUT",route="${ROUTE}",status="200"} 2`);
    has(`weft_http_requests_total{method="PUT",route="${ROUTE}",status="403"} 1`);
    has('weft_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    has(`weft_http_request_duration_seconds_count{method="PUT",route="${ROUTE}"} 3`);
    has(`weft_http_request_duration_seconds_sum{method="PUT",route="${ROUTE}"} 3.013`);
    has(`weft_http_request_duration_seconds_bucket{le="0.025",method="PUT",route="${ROUTE}"} 2`);
    has(`weft_http_request_duration_seconds_bucket{le="5",method="PUT",route="${ROUTE}"} 3`);
    assert.ok(lines.some((line) => line.startsWith('process_cpu_seconds_total ')));
  });

  it('count persisted events and their age at commit (a clock stepped back: zero)', async () => {
    const metrics = new Metrics(sources());
    metrics.eventsCommitted([eventAt(1000), eventAt(998), eventAt(1005)], 1002);
    const { body } = await metrics.exposition();
    const lines = body.split('\n');
    assert.ok(lines.includes('weft_events_persisted_total 3'), body);
    assert.ok(lines.includes('weft_event_persist_duration_seconds_count 3'));
    assert.ok(lines.includes('weft_event_persist_duration_seconds_sum 0.006'));
    assert.ok(lines.includes('weft_event_persist_duration_seconds_bucket{le="0.001"} 1'));
    assert.ok(lines.includes('weft_event_persist_duration_seconds_bucket{le="0.005"} 3'));
  });

  it('read the long-polls waiting when scraped', async () => {
    let waiting = 3;
    const metrics = new Metrics(sources({ longPollsWaiting: () => waiting }));
    assert.ok((await metrics.exposition()).body.includes('\nweft_sync_long_polls_in_flight 3\n'));
    waiting = 0;
    assert.ok((await metrics.exposition()).body.includes('\nweft_sync_long_polls_in_flight 0\n'));
  });

  it('are served at /metrics on a listener of their own (GET, HEAD; 405, 404 else)', async () => {
    const metrics = new Metrics(sources());
    const errors: unknown[] = [];
    const listener = await listenMetrics(metrics, '127.0.0.1', 0, (err) => errors.push(err));
    try {
      assert.match(listener.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${listener.url}/metrics?x=1`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^# HELP /m);
      const head = await fetch(`${listener.url}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      const post = await fetch(`${listener.url}/metrics`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      assert.equal((await fetch(`${listener.url}/`)).status, 404);
      assert.deepEqual(errors, []);
    } finally {
      await listener.close();
    }
    await assert.rejects(fetch(`${listener.url}/metrics`));
  });

  it('config: off by default, checked, written out by generate-config', () => {
    const config = defaultConfig();
    assert.deepEqual(config.metrics, { enabled: false, bind: '127.0.0.1', port: 9009 });
    assert.deepEqual(parse(renderConfigYaml(config)).metrics, config.metrics);
    const enabled = mergeConfig(config, { metrics: { enabled: true, port: 9100 } });
    assert.deepEqual(parse(renderConfigYaml(enabled)).metrics, enabled.metrics);
    assert.equal(checkConfig(enabled), enabled);
    const withMetrics = (metrics: object) => mergeConfig(config, { metrics } as never);
    assert.throws(() => checkConfig(withMetrics({ port: 70000 })), ConfigError);
    assert.throws(() => checkConfig(withMetrics({ port: 1.5 })), ConfigError);
    assert.throws(() => checkConfig(withMetrics({ bind: '' })), ConfigError);
    assert.throws(
      () => checkConfig(withMetrics({ enabled: true, port: config.port })),
      ConfigError,
    );
    assert.doesNotThrow(() => checkConfig(withMetrics({ enabled: false, port: config.port })));
    assert.throws(() => withMetrics({ path: '/m' }), ConfigError);
  });
});
