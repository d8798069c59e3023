/**
 * Two real Wefts that federate (a.test and b.test, each with its own
 * database), speaking plain HTTP to each other through `federation.hosts`,
 * loopback allowed. `extraHosts` names more servers both may try to reach
 * (a closed port, a server that never answers).
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import {
  Api,
  InProcessServer,
  UserHelpers,
  type ConfigOverrides,
  type SyncBody,
} from './fixture.js';
import type { Session } from './client.js';
import type { JsonValue } from '../../src/events/pdu.js';
import { xMatrixAuthorization } from '../../src/federation/request-auth.js';

export interface FederatingSide {
  name: string;
  server: InProcessServer;
  api: Api;
  helpers: UserHelpers;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A server named `name` on `port` that reaches `peer` on `peerPort` (and `extraHosts`) over plain HTTP. */
export function federatingConfig(
  name: string,
  port: number,
  peer: string,
  peerPort: number,
  extraHosts: Record<string, string> = {},
): ConfigOverrides {
  return {
    server_name: name,
    port,
    registration: { enabled: true },
    federation: {
      hosts: { [peer]: `http://127.0.0.1:${peerPort}`, ...extraHosts },
      ip_range_whitelist: ['127.0.0.0/8'],
    },
  };
}

/** Both sides, built (not started): a first, b second. */
export async function federatingPair(
  extraHosts: Record<string, string> = {},
  overrides: ConfigOverrides = {},
): Promise<[FederatingSide, FederatingSide]> {
  const [portA, portB] = [await freePort(), await freePort()];
  const side = (name: string, port: number, peer: string, peerPort: number): FederatingSide => {
    const federating = federatingConfig(name, port, peer, peerPort, extraHosts);
    const server = new InProcessServer({
      ...overrides,
      ...federating,
      federation: { ...overrides.federation, ...federating.federation },
    });
    const api = new Api(() => server.url);
    return { name, server, api, helpers: new UserHelpers(api) };
  };
  return [side('a.test', portA, 'b.test', portB), side('b.test', portB, 'a.test', portA)];
}

/** federatingPair with both servers started. */
export async function startFederatingPair(
  extraHosts: Record<string, string> = {},
  overrides: ConfigOverrides = {},
): Promise<[FederatingSide, FederatingSide]> {
  const pair = await federatingPair(extraHosts, overrides);
  for (const side of pair) await side.server.start();
  return pair;
}

/** Closes the sides that were made, the last first. */
export async function closeFederatingPair(
  pair: readonly (FederatingSide | undefined)[],
): Promise<void> {
  for (const side of [...pair].reverse()) await side?.server.close();
}

/**
 * A Server-Server request to `to`, signed as `from` signs (X-Matrix over the
 * body); `rawBody` is sent as it is, unsigned content (not JSON, say).
 */
export async function federationRequest(
  from: FederatingSide,
  to: FederatingSide,
  method: 'GET' | 'PUT' | 'POST',
  uri: string,
  body?: JsonValue,
  rawBody?: string,
) {
  const key = from.server.weft.keys.signingKey;
  const parts = { method, uri, origin: from.name, destination: to.name };
  const authorization = xMatrixAuthorization(
    body === undefined ? parts : { ...parts, content: body },
    key,
  );
  const headers: Record<string, string> = { authorization };
  if (rawBody !== undefined) headers['content-type'] = 'application/json';
  return to.api.request(
    method,
    uri,
    body,
    rawBody === undefined ? { headers } : { headers, rawBody },
  );
}

/** Syncs until `check` holds for the body (federation is asynchronous), or fails after a while. */
export async function syncUntil(
  side: FederatingSide,
  who: Session,
  check: (body: SyncBody) => boolean,
  query: Record<string, string> = {},
  attempts = 100,
): Promise<SyncBody> {
  let last: SyncBody | undefined;
  for (let i = 0; i < attempts; i++) {
    const body: SyncBody = await side.helpers.sync(who, { timeout: '0', ...query });
    last = body;
    if (check(body)) return body;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`sync never matched: ${JSON.stringify(last)}`);
}
