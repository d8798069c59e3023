/**
 * A minimal HTTP/1.1 client for the room message workload: one keep-alive
 * connection, one request at a time, the request written as one string and
 * the response read by its Content-Length. The bench shares the machine's two
 * cores with the server it measures, and autocannon, the previous client,
 * took about 0.2 ms of CPU per send there (a quarter of a core at 1,300
 * sends/s) that the server then did not have. This client takes a few tens
 * of microseconds. It speaks only what Weft answers these requests with:
 * no chunked bodies, no redirects, no pipelining.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

export class RawHttpConnection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting:
    | { resolve(response: RawResponse): void; reject(err: Error): void; timer: NodeJS.Timeout }
    | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('The server closed the connection')));
  }

  static open(baseUrl: string): Promise<RawHttpConnection> {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:') throw new Error('The raw client speaks plain HTTP only');
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port || 80), url.hostname, () => {
        socket.off('error', reject);
        resolve(new RawHttpConnection(socket, url.host));
      });
      socket.once('error', reject);
    });
  }

  /** Sends one request and resolves with its response; `headers` are `Name: value` lines. */
  request(
    method: string,
    path: string,
    headers: string[],
    body: string,
    timeoutMs: number,
  ): Promise<RawResponse> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.waiting) return Promise.reject(new Error('One request at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error('Request timed out')), timeoutMs);
      this.waiting = { resolve, reject, timer };
      const head = [
        `${method} ${path} HTTP/1.1`,
        `Host: ${this.host}`,
        ...headers,
        `Content-Length: ${Buffer.byteLength(body)}`,
      ];
      this.socket.write(`${head.join('\r\n')}\r\n\r\n${body}`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const headerEnd = this.buffered.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.buffered.subarray(0, headerEnd).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
    if (!Number.isInteger(status) || !Number.isInteger(length)) {
      this.fail(new Error(`Unsupported response: ${head.split('\r\n', 1)[0]}`));
      return;
    }
    const bodyStart = headerEnd + HEADER_END.length;
    if (this.buffered.length < bodyStart + length) return;
    const body = this.buffered.subarray(bodyStart, bodyStart + length).toString('utf8');
    this.buffered = this.buffered.subarray(bodyStart + length);
    const waiting = this.waiting;
    this.waiting = undefined;
    if (!waiting) {
      this.fail(new Error('A response nobody asked for'));
      return;
    }
    clearTimeout(waiting.timer);
    waiting.resolve({ status, body });
  }

  /** The connection is unusable from now on; the request in flight fails. */
  private fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(err);
    }
    this.socket.destroy();
  }
}
