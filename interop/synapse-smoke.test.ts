/**
 * The Synapse peer works (docs/interop.md): not part of `npm test` (it needs root
 * and Debian's archive the first time). Run with
 *   node --import tsx --test interop/synapse-smoke.test.ts
 *
 * One Synapse serves a client (registration, login, a room, a message, /sync);
 * two Synapses sharing the test CA federate over TLS on loopback, with server
 * names that carry their port: the setup a Weft ↔ Synapse scenario needs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  canRunSynapse,
  freePortPair,
  installSynapse,
  makeCertificates,
  startSynapsePeer,
  type SynapsePeer,
} from './synapse-peer.js';

const skip = canRunSynapse() ? false : 'the Synapse peer needs root';

interface Session {
  baseUrl: string;
  token: string;
}

async function call<T>(
  session: Session | string,
  method: string,
  apiPath: string,
  body?: object,
): Promise<T> {
  const baseUrl = typeof session === 'string' ? session : session.baseUrl;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (typeof session !== 'string') headers.authorization = `Bearer ${session.token}`;
  const response = await fetch(baseUrl + apiPath, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const json = (await response.json()) as T;
  assert.equal(response.status, 200, `${method} ${apiPath}: ${JSON.stringify(json)}`);
  return json;
}

interface SyncBody {
  next_batch: string;
  rooms?: {
    join?: Record<string, { timeline: { events: { type: string; content: { body?: string } }[] } }>;
    invite?: Record<string, unknown>;
  };
}

/** Syncs until `found` accepts a response (federation takes a moment). */
async function syncUntil(session: Session, found: (body: SyncBody) => boolean): Promise<SyncBody> {
  let since = '';
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const query = since ? `?since=${encodeURIComponent(since)}&timeout=5000` : '?timeout=0';
    const body = await call<SyncBody>(session, 'GET', `/_matrix/client/v3/sync${query}`);
    if (found(body)) return body;
    since = body.next_batch;
  }
  throw new Error('sync never showed what was expected');
}

function timelineBodies(body: SyncBody, roomId: string): (string | undefined)[] {
  return (body.rooms?.join?.[roomId]?.timeline.events ?? [])
    .filter((event) => event.type === 'm.room.message')
    .map((event) => event.content.body);
}

describe('a Synapse peer', { skip, timeout: 20 * 60_000 }, () => {
  let dir = '';
  let a: SynapsePeer;
  let b: SynapsePeer;

  before(async () => {
    const installMs = await installSynapse();
    console.log(`# synapse install (or its check): ${(installMs / 1000).toFixed(1)} s`);
    dir = mkdtempSync(path.join(tmpdir(), 'weft-synapse-smoke-'));
    const portA = await freePortPair();
    const portB = await freePortPair();
    const nameA = `synapse-a.test:${portA}`;
    const nameB = `synapse-b.test:${portB}`;
    const certs = await makeCertificates(path.join(dir, 'certs'), [nameA, nameB]);
    // Each knows where the other's name points; both trust the one test CA.
    const peer = (name: string, port: number, other: string) =>
      startSynapsePeer({
        serverName: name,
        port,
        dataDir: path.join(dir, String(port)),
        caFile: certs.caFile,
        ...certs.certFor(name),
        peers: { [other]: '127.0.0.1' },
      });
    // A failed start leaves no process; the other one is kept for after() to stop.
    const [startedA, startedB] = await Promise.allSettled([
      peer(nameA, portA, nameB),
      peer(nameB, portB, nameA),
    ]);
    if (startedA.status === 'fulfilled') a = startedA.value;
    if (startedB.status === 'fulfilled') b = startedB.value;
    for (const result of [startedA, startedB]) {
      if (result.status === 'rejected') throw result.reason;
    }
    console.log(
      `# synapse start: ${(a.startMs / 1000).toFixed(1)} s, ${(b.startMs / 1000).toFixed(1)} s`,
    );
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('serves a client: register, log in, create a room, send, sync', async () => {
    await a.register('alice', 'alice-password');
    const login = await call<{ access_token: string; user_id: string }>(
      a.clientUrl,
      'POST',
      '/_matrix/client/v3/login',
      {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: 'alice-password',
      },
    );
    assert.equal(login.user_id, `@alice:${a.serverName}`);
    const alice = { baseUrl: a.clientUrl, token: login.access_token };
    const { room_id: roomId } = await call<{ room_id: string }>(
      alice,
      'POST',
      '/_matrix/client/v3/createRoom',
      { name: 'smoke' },
    );
    await call(alice, 'PUT', `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/t1`, {
      msgtype: 'm.text',
      body: 'hello from the smoke test',
    });
    const synced = await syncUntil(alice, (body) => timelineBodies(body, roomId).length > 0);
    assert.deepEqual(timelineBodies(synced, roomId), ['hello from the smoke test']);
  });

  test('federates with a second Synapse over TLS with the shared test CA', async () => {
    const carol = await a.register('carol', 'carol-password');
    const dave = await b.register('dave', 'dave-password');
    const onA = { baseUrl: a.clientUrl, token: carol.accessToken };
    const onB = { baseUrl: b.clientUrl, token: dave.accessToken };
    const { room_id: roomId } = await call<{ room_id: string }>(
      onA,
      'POST',
      '/_matrix/client/v3/createRoom',
      { invite: [dave.userId] },
    );
    await syncUntil(onB, (body) => Boolean(body.rooms?.invite?.[roomId]));
    await call(onB, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
    await call(onA, 'PUT', `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/f1`, {
      msgtype: 'm.text',
      body: 'across servers',
    });
    const synced = await syncUntil(onB, (body) =>
      timelineBodies(body, roomId).includes('across servers'),
    );
    assert.ok(timelineBodies(synced, roomId).includes('across servers'));
  });
});
