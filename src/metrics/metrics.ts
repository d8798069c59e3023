/**
 * Weft's Prometheus metrics (prom-client), made only when `metrics.enabled`:
 * with it off nothing here exists and no hook runs. Served by
 * metrics-server.ts on a listener of its own.
 *
 * - prom-client's default metrics under their conventional names, unprefixed
 *   (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
 *   `nodejs_eventloop_lag_seconds`, `nodejs_gc_duration_seconds`, ...), so
 *   the usual Node.js dashboards read them as they are;
 * - `weft_http_requests_total{method,route,status}` and
 *   `weft_http_request_duration_seconds{method,route}`: `route` is the
 *   route's template (`/_matrix/client/v3/rooms/:roomId/send/:eventType/:txnId`),
 *   `unmatched` for a path no route serves: never the raw path, which holds
 *   room and user IDs and whose values are unbounded;
 * - `weft_sync_long_polls_in_flight`: long-polls (/sync, /events) waiting,
 *   read from the notifier when scraped;
 * - `weft_events_persisted_total` and `weft_event_persist_duration_seconds`:
 *   events committed, and for each the time from its `origin_server_ts` (set
 *   when it was built, in its room's lock) to its commit: the wait for its
 *   batch, the transaction and the disk sync;
 * - `weft_notifier_wakeups_total`: long-polls woken by a change (read from
 *   the notifier when scraped);
 * - `weft_database_query_duration_seconds{kind}`: database round trips as the
 *   main thread waits for them: `query` (a PostgreSQL statement) or `writer`
 *   (a request to the SQLite writer thread: events or push results stored).
 *   SQLite's main-connection reads are synchronous and microseconds long:
 *   timing each would cost more than it tells;
 * - `weft_push_evaluation_queue_events` and `weft_pushers_running`: committed
 *   events waiting for push rules, and pushers sending now (read when scraped);
 * - `weft_cache_lookups_total{cache,result}`: the storage's read-through caches
 *   (`result` hit or miss; the hit rate is hits over the sum).
 * The database and cache measurements come through util/probes.ts, which
 * storage reports to and these metrics listen to until `close()`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventRecord } from '../events/records.js';
import { listenToProbes } from '../util/probes.js';

/** The `route` of a request that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

/** A request's `route` label: its route's template, or `unmatched` (never the path itself). */
export function routeLabel(template: string | undefined): string {
  return template ? template : UNMATCHED_ROUTE;
}

/** Seconds. Long-polls (/sync waits up to its timeout) land in the top buckets. */
const REQUEST_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Seconds: a commit is a few milliseconds on a healthy disk. */
const PERSIST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Seconds: a PostgreSQL round trip over a socket is a fraction of a millisecond. */
const QUERY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];

/** What the metrics read from the rest of the server when scraped. */
export interface MetricsSources {
  /** Long-poll requests waiting for something to answer with. */
  longPollsWaiting(): number;
  /** Long-polls woken by a change since the start (a count that only grows). */
  notifierWakeUps(): number;
  /** Committed events waiting for push rule evaluation. */
  pushQueueLength(): number;
  /** Pushers sending notifications now. */
  pushersRunning(): number;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly requestDuration: Histogram<'method' | 'route'>;
  private readonly eventsPersisted: Counter;
  private readonly persistDuration: Histogram;
  private readonly queryDuration: Histogram<'kind'>;
  private readonly cacheLookups: Counter<'cache' | 'result'>;
  private readonly stopListening: () => void;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'weft_http_requests_total',
      help: 'HTTP requests answered on the client listener, by route template and status.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'weft_http_request_duration_seconds',
      help: 'Time from a request to its answer on the client listener, by route template.',
      labelNames: ['method', 'route'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'weft_sync_long_polls_in_flight',
      help: 'Long-poll requests (/sync, /events) waiting for something to answer with.',
      registers,
      collect() {
        this.set(sources.longPollsWaiting());
      },
    });
    this.eventsPersisted = new Counter({
      name: 'weft_events_persisted_total',
      help: 'Room events committed to the database.',
      registers,
    });
    this.persistDuration = new Histogram({
      name: 'weft_event_persist_duration_seconds',
      help: 'Time from building a room event (its origin_server_ts) to its commit.',
      buckets: PERSIST_BUCKETS,
      registers,
    });
    this.addQueueGauges(sources);
    this.queryDuration = new Histogram({
      name: 'weft_database_query_duration_seconds',
      help: 'Database round trips: PostgreSQL statements (query), SQLite writer thread requests (writer).',
      labelNames: ['kind'],
      buckets: QUERY_BUCKETS,
      registers,
    });
    this.cacheLookups = new Counter({
      name: 'weft_cache_lookups_total',
      help: "Lookups in the storage's read-through caches, by cache and hit or miss.",
      labelNames: ['cache', 'result'],
      registers,
    });
    this.stopListening = listenToProbes({
      databaseQuery: (kind, seconds) => this.queryDuration.observe({ kind }, seconds),
      cacheLookups: (cache, hits, misses) => {
        if (hits > 0) this.cacheLookups.inc({ cache, result: 'hit' }, hits);
        if (misses > 0) this.cacheLookups.inc({ cache, result: 'miss' }, misses);
      },
    });
  }

  /** The gauges and counters read from the server's parts when scraped. */
  private addQueueGauges(sources: MetricsSources): void {
    const registers = [this.registry];
    new Counter({
      name: 'weft_notifier_wakeups_total',
      help: 'Long-polls (/sync, /events) woken by a change.',
      registers,
      collect() {
        // The notifier keeps the count; the counter shows it.
        this.reset();
        this.inc(sources.notifierWakeUps());
      },
    });
    new Gauge({
      name: 'weft_push_evaluation_queue_events',
      help: 'Committed events waiting for push rule evaluation.',
      registers,
      collect() {
        this.set(sources.pushQueueLength());
      },
    });
    new Gauge({
      name: 'weft_pushers_running',
      help: 'Pushers sending notifications to push gateways now.',
      registers,
      collect() {
        this.set(sources.pushersRunning());
      },
    });
  }

  /** Stops listening to the storage's probes (the server is closing). */
  close(): void {
    this.stopListening();
  }

  /**
   * One answered request (the HTTP server's onResponse hook): `route` is the
   * template of the route that served it, undefined when none did.
   */
  readonly observeRequest = (
    method: string,
    route: string | undefined,
    status: number,
    elapsedMs: number,
  ): void => {
    const label = routeLabel(route);
    this.requests.inc({ method, route: label, status });
    this.requestDuration.observe({ method, route: label }, elapsedMs / 1000);
  };

  /** A committed batch of events (`eventsCommitted`). */
  eventsCommitted(records: readonly EventRecord[], now = Date.now()): void {
    this.eventsPersisted.inc(records.length);
    for (const record of records) {
      // A clock stepped back gives a negative age: counted as none.
      this.persistDuration.observe(Math.max(0, now - record.pdu.origin_server_ts) / 1000);
    }
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
