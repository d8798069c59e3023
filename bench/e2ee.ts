/**
 * The E2EE workloads (issue 8):
 * - /keys/claim: U users each upload K one-time keys, then a claimer takes
 *   every one of them, one key per request, from C concurrent workers;
 *   claims/s and latency, and a check that no key was handed out twice;
 * - to-device latency: D devices of one user long-poll /sync, a sender sends
 *   to `*`; the time until every device has the message, p50/p99 over sends.
 * Setup (registration, logins, uploads) is not measured.
 */
import { clientRequest } from './http-client.js';
import { registerUser, summarise, type Measurement } from './workloads.js';

export interface KeysClaimOptions {
  users: number;
  keysPerUser: number;
  concurrency: number;
  /** Distinguishes the accounts of repeated runs against one server. */
  prefix?: string;
}

export interface ToDeviceOptions {
  devices: number;
  sends: number;
  prefix?: string;
}

interface Device {
  userId: string;
  deviceId: string;
  token: string;
}

/** /keys/claim throughput: every uploaded key claimed once, `concurrency` requests at a time. */
export async function keysClaim(baseUrl: string, options: KeysClaimOptions): Promise<Measurement> {
  const prefix = `${options.prefix ?? ''}claim`;
  const owners: Device[] = [];
  for (let i = 0; i < options.users; i++) {
    const owner = await register(baseUrl, `${prefix}${i}`);
    await call(baseUrl, 'POST', '/keys/upload', owner, {
      one_time_keys: fakeOneTimeKeys(options.keysPerUser),
    });
    owners.push(owner);
  }
  const claimer = await register(baseUrl, `${prefix}er`);
  const queue = owners.flatMap((owner) => Array.from({ length: options.keysPerUser }, () => owner));
  const claimed = new Set<string>();
  const latencies: number[] = [];
  let failed = 0;
  const start = performance.now();
  const worker = async () => {
    for (let owner = queue.pop(); owner; owner = queue.pop()) {
      const began = performance.now();
      const body = (await call(baseUrl, 'POST', '/keys/claim', claimer, {
        one_time_keys: { [owner.userId]: { [owner.deviceId]: 'signed_curve25519' } },
      })) as { one_time_keys: Record<string, Record<string, Record<string, unknown>>> };
      latencies.push(performance.now() - began);
      const keys = Object.keys(body.one_time_keys[owner.userId]?.[owner.deviceId] ?? {});
      if (keys.length !== 1) failed++;
      for (const keyId of keys) claimed.add(`${owner.userId}/${keyId}`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  const expected = options.users * options.keysPerUser;
  if (claimed.size !== expected || failed > 0) {
    throw new Error(
      `claimed ${claimed.size} distinct keys of ${expected} (${failed} empty claims)`,
    );
  }
  return { ...summarise(latencies, seconds), failed };
}

/** To-device delivery: from the send until every long-polling device has the message. */
export async function toDeviceLatency(
  baseUrl: string,
  options: ToDeviceOptions,
): Promise<Measurement> {
  const prefix = `${options.prefix ?? ''}todevice`;
  const sender = await register(baseUrl, `${prefix}sender`);
  const first = await register(baseUrl, `${prefix}target`);
  const devices = [first];
  while (devices.length < options.devices) {
    devices.push(await login(baseUrl, `${prefix}target`, first.userId));
  }
  const sinces = await Promise.all(
    devices.map(async (d) => (await sync(baseUrl, d, undefined, 0)).next_batch),
  );
  const latencies: number[] = [];
  const start = performance.now();
  for (let send = 0; send < options.sends; send++) {
    const polls = devices.map((device, i) => pollFor(baseUrl, device, sinces, i, send));
    // Every device is waiting before the send is timed.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const sent = performance.now();
    await call(baseUrl, 'PUT', `/sendToDevice/m.bench/${prefix}${send}`, sender, {
      messages: { [first.userId]: { '*': { send } } },
    });
    const arrivals = await Promise.all(polls);
    latencies.push(Math.max(...arrivals) - sent);
  }
  return summarise(latencies, (performance.now() - start) / 1000);
}

/** Long-polls until the message numbered `send` arrives; resolves with the arrival time. */
async function pollFor(
  baseUrl: string,
  device: Device,
  sinces: string[],
  index: number,
  send: number,
): Promise<number> {
  for (;;) {
    const body = await sync(baseUrl, device, sinces[index], 30_000);
    sinces[index] = body.next_batch;
    if (body.to_device.events.some((e) => e.content.send === send)) return performance.now();
  }
}

interface SyncBody {
  next_batch: string;
  to_device: { events: { content: { send?: number } }[] };
}

async function sync(baseUrl: string, device: Device, since: string | undefined, timeout: number) {
  const query = new URLSearchParams({ timeout: String(timeout) });
  if (since) query.set('since', since);
  return (await call(baseUrl, 'GET', `/sync?${query}`, device)) as SyncBody;
}

function fakeOneTimeKeys(count: number): Record<string, unknown> {
  const keys: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    keys[`signed_curve25519:K${i}`] = { key: `key${i}`, signatures: {} };
  }
  return keys;
}

async function register(baseUrl: string, username: string): Promise<Device> {
  const token = await registerUser(baseUrl, username, `bench-password-${username}`);
  const whoami = (await call(baseUrl, 'GET', '/account/whoami', { token } as Device)) as {
    user_id: string;
    device_id: string;
  };
  return { userId: whoami.user_id, deviceId: whoami.device_id, token };
}

async function login(baseUrl: string, username: string, userId: string): Promise<Device> {
  const body = (await call(baseUrl, 'POST', '/login', undefined, {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: username },
    password: `bench-password-${username}`,
  })) as { access_token: string; device_id: string };
  return { userId, deviceId: body.device_id, token: body.access_token };
}

function call(
  baseUrl: string,
  method: string,
  path: string,
  device: Device | undefined,
  body?: object,
): Promise<unknown> {
  return clientRequest<unknown>(baseUrl, method, device?.token, path, body);
}
