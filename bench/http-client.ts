/**
 * The bench's HTTP client: one JSON request over a keep-alive connection.
 * node:http, not fetch(): on the 2-core bench machine fetch cost the bench
 * process about 1.3 ms of CPU per request, node:http about a third of that,
 * and the bench shares the cores with the server. In a fan-out the client
 * handles 50 responses at once, so with fetch its own CPU time was most of
 * the measured latency.
 */
import { Agent, request as httpRequest } from 'node:http';

export const CLIENT = '/_matrix/client/v3';
const DEFAULT_TIMEOUT_MS = 60_000;

/** Keep-alive connections shared by the workloads; closed by `closeBenchConnections`. */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** Closes the idle keep-alive connections, so that a server can stop at once. */
export function closeBenchConnections(): void {
  agent.destroy();
}

export interface JsonResponse {
  ok: boolean;
  status: number;
  /** The parsed body, or its text if it is not JSON. */
  json: unknown;
}

/** `url` is absolute; `token`, if given, goes in the Authorization header. */
export function callJson(
  method: string,
  url: string,
  token: string | undefined,
  body?: object,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<JsonResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = Buffer.byteLength(payload);
  }
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method, agent, headers, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        const status = response.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, json });
      });
    });
    request.on('timeout', () => request.destroy(new Error(`${method} ${url}: timed out`)));
    request.on('error', reject);
    request.end(payload);
  });
}

/** `callJson` on a client-server API path; throws on a non-2xx answer. */
export async function clientRequest<T>(
  baseUrl: string,
  method: string,
  token: string | undefined,
  path: string,
  body?: object,
): Promise<T> {
  const { ok, status, json } = await callJson(method, baseUrl + CLIENT + path, token, body);
  if (!ok) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(json)}`);
  return json as T;
}
