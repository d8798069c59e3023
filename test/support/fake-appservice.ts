/**
 * A plain node:http application service for the e2e tests: it records every
 * request Weft makes (transactions with their exact bodies, pings, queries)
 * and answers as the test tells it to (a status per request, a delay).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  /** The body exactly as received. */
  raw: string;
  json: unknown;
}

export interface ReceivedTransaction extends ReceivedRequest {
  txnId: string;
  body: {
    events: { event_id: string; type: string; room_id: string; content: Record<string, unknown> }[];
  } & Record<string, unknown>;
}

/** How to answer a request: a status and a JSON body (default 200 `{}`). */
export type Answer = { status: number; body?: unknown; delayMs?: number };

export class FakeAppService {
  readonly requests: ReceivedRequest[] = [];
  /** Decides each answer; the default acknowledges everything. */
  answer: (request: ReceivedRequest) => Answer | Promise<Answer> = () => ({ status: 200 });
  private server?: Server;
  private readonly waiters = new Set<() => void>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body, delayMs }) => {
        setTimeout(() => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body ?? {}));
        }, delayMs ?? 0);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  /** Every transaction received, retries included, in arrival order. */
  get transactions(): ReceivedTransaction[] {
    return this.requests
      .filter((r) => r.method === 'PUT' && r.path.startsWith('/_matrix/app/v1/transactions/'))
      .map((r) => ({
        ...r,
        txnId: decodeURIComponent(r.path.slice('/_matrix/app/v1/transactions/'.length)),
        body: r.json as ReceivedTransaction['body'],
      }));
  }

  /** The room events received, each once (retries deduplicated by txnId, as a service must). */
  eventIds(): string[] {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (const txn of this.transactions) {
      if (seen.has(txn.txnId)) continue;
      seen.add(txn.txnId);
      ids.push(...txn.body.events.map((event) => event.event_id));
    }
    return ids;
  }

  /** Resolves once `check` holds (checked at each request), or fails after `timeoutMs`. */
  async waitFor(
    check: () => boolean,
    timeoutMs = 15_000,
    what = 'the expected requests',
  ): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`Timed out waiting for ${what}; got ${this.requests.length} requests`));
      }, timeoutMs);
      const wake = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
    });
  }

  private async handle(req: IncomingMessage): Promise<Answer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    let json: unknown;
    try {
      json = raw ? JSON.parse(raw) : undefined;
    } catch {
      json = undefined;
    }
    const request: ReceivedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      raw,
      json,
    };
    this.requests.push(request);
    const answer = await this.answer(request);
    for (const wake of [...this.waiters]) wake();
    return answer;
  }
}
