/**
 * Remote users' keys (e2ee/remote-keys.ts): one request per server, in
 * parallel, failures by server name, and the cache of room-mates' keys that
 * their servers' EDUs and membership changes invalidate. The servers here are
 * a scripted RemoteKeyServers (the federation client's contract), not HTTP.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EventRecord } from '../../src/events/records.js';
import {
  RemoteKeys,
  RemoteServerFailure,
  type ClaimedKeys,
  type RemoteKeyServers,
  type RemoteUserKeys,
} from '../../src/e2ee/remote-keys.js';

/** Answers each user with one device named after how many times their server was asked. */
class ScriptedServers implements RemoteKeyServers {
  readonly asked: { server: string; userIds: string[]; timeoutMs: number }[] = [];
  readonly failing = new Map<string, Error>();
  /** Held answers: resolved by the test (a fetch in flight). */
  hold?: Promise<void>;

  async queryKeys(server: string, userIds: string[], timeoutMs: number) {
    this.asked.push({ server, userIds, timeoutMs });
    const round = this.asked.length;
    await this.hold;
    const failure = this.failing.get(server);
    if (failure) throw failure;
    return new Map<string, RemoteUserKeys>(
      userIds.map((userId) => [userId, { devices: { [`D${round}`]: { user_id: userId } } }]),
    );
  }

  async claimKeys(server: string, claims: Record<string, Record<string, string>>) {
    const failure = this.failing.get(server);
    if (failure) throw failure;
    const keys: ClaimedKeys = {};
    for (const [userId, devices] of Object.entries(claims)) {
      for (const deviceId of Object.keys(devices)) {
        (keys[userId] ??= {})[deviceId] = { [`signed_curve25519:${server}`]: 'k' };
      }
    }
    return keys;
  }
}

function remoteKeys(servers: ScriptedServers, roomMates: Set<string>, members: string[] = []) {
  return new RemoteKeys({
    servers,
    serverName: 'a.test',
    sharesRoomWithLocalUser: async (userId) => roomMates.has(userId),
    joinedMembers: async () => members,
  });
}

function memberEvent(roomId: string, userId: string, membership: string): EventRecord {
  return {
    roomId,
    pdu: { type: 'm.room.member', state_key: userId, content: { membership } },
  } as unknown as EventRecord;
}

const devicesOf = (result: { users: Map<string, RemoteUserKeys> }, userId: string) =>
  Object.keys(result.users.get(userId)?.devices ?? {});

describe('remote keys', () => {
  it('asks each server once for its users, and records failures by server name', async () => {
    const servers = new ScriptedServers();
    servers.failing.set('down.test', new RemoteServerFailure(503, 'unreachable'));
    servers.failing.set('odd.test', new Error('socket hang up'));
    const keys = remoteKeys(servers, new Set());
    const result = await keys.query(
      ['@b1:b.test', '@b2:b.test', '@c:c.test', '@x:down.test', '@y:odd.test'],
      1_234,
    );
    const byServer = Object.fromEntries(servers.asked.map((a) => [a.server, a.userIds]));
    assert.deepEqual(byServer['b.test'], ['@b1:b.test', '@b2:b.test']);
    assert.deepEqual(byServer['c.test'], ['@c:c.test']);
    assert.ok(servers.asked.every((a) => a.timeoutMs === 1_234));
    assert.deepEqual(result.failures, {
      'down.test': { status: 503, message: 'unreachable' },
      'odd.test': { status: 503, message: 'socket hang up' },
    });
    assert.deepEqual([...result.users.keys()].sort(), ['@b1:b.test', '@b2:b.test', '@c:c.test']);
  });

  it('caches room-mates only, until their server tells of a change', async () => {
    const servers = new ScriptedServers();
    const keys = remoteKeys(servers, new Set(['@mate:b.test']));
    await keys.query(['@mate:b.test', '@stranger:b.test'], 1_000);
    const again = await keys.query(['@mate:b.test', '@stranger:b.test'], 1_000);
    // The room-mate came from the cache; the stranger was asked again.
    assert.deepEqual(servers.asked.at(-1)!.userIds, ['@stranger:b.test']);
    assert.deepEqual(devicesOf(again, '@mate:b.test'), ['D1']);

    keys.forget('@mate:b.test');
    const fresh = await keys.query(['@mate:b.test'], 1_000);
    assert.deepEqual(devicesOf(fresh, '@mate:b.test'), ['D3']);
  });

  it('does not cache an answer that a change overtook', async () => {
    const servers = new ScriptedServers();
    const keys = remoteKeys(servers, new Set(['@mate:b.test']));
    let release!: () => void;
    servers.hold = new Promise((resolve) => (release = resolve));
    const inFlight = keys.query(['@mate:b.test'], 1_000);
    await new Promise((resolve) => setImmediate(resolve));
    keys.forget('@mate:b.test');
    release();
    await inFlight;
    servers.hold = undefined;
    await keys.query(['@mate:b.test'], 1_000);
    assert.equal(servers.asked.length, 2, 'the overtaken answer was not cached');
  });

  it('drops cached keys on membership changes', async () => {
    const servers = new ScriptedServers();
    const keys = remoteKeys(servers, new Set(['@mate:b.test', '@other:c.test']), [
      '@mate:b.test',
      '@me:a.test',
    ]);
    await keys.query(['@mate:b.test', '@other:c.test'], 1_000);
    // A remote user's own member event drops their entry.
    keys.eventsCommitted([memberEvent('!r', '@other:c.test', 'leave')]);
    // One of our users joining a room drops its remote members' entries.
    keys.eventsCommitted([memberEvent('!r', '@me:a.test', 'join')]);
    await new Promise((resolve) => setImmediate(resolve));
    await keys.query(['@mate:b.test', '@other:c.test'], 1_000);
    const askedAgain = servers.asked.slice(-2).flatMap((a) => a.userIds);
    assert.deepEqual(askedAgain.sort(), ['@mate:b.test', '@other:c.test']);
  });

  it('claims from each server and records failures', async () => {
    const servers = new ScriptedServers();
    servers.failing.set('down.test', new RemoteServerFailure(502, 'bad gateway'));
    const keys = remoteKeys(servers, new Set());
    const result = await keys.claim(
      {
        '@b:b.test': { D1: 'signed_curve25519' },
        '@x:down.test': { D2: 'signed_curve25519' },
      },
      1_000,
    );
    assert.deepEqual(result.keys, { '@b:b.test': { D1: { 'signed_curve25519:b.test': 'k' } } });
    assert.deepEqual(result.failures, { 'down.test': { status: 502, message: 'bad gateway' } });
  });
});
