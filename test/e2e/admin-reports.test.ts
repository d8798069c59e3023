/**
 * Synapse's Admin API over content reports: event, room and user reports made
 * through the client API, listed with filters and pages, read one at a time
 * (an event report with its event), deleted; server admins only.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CLIENT_V3, serverSuite } from '../support/fixture.js';
import { expectError } from '../support/spec-schemas.js';

const ADMIN = '/_synapse/admin/v1';
const enc = encodeURIComponent;

interface EventReport {
  id: number;
  received_ts: number;
  room_id: string;
  name: string | null;
  event_id: string;
  user_id: string;
  reason: string | null;
  score: number | null;
  sender: string;
  canonical_alias: string | null;
  event_json?: { type: string; sender: string; content: { body?: string } };
}
interface EventPage {
  event_reports: EventReport[];
  total: number;
  next_token?: number;
}

describe('Admin API: content reports', () => {
  const suite = serverSuite();
  const { api } = suite;
  const [root, alice, bob, carol] = suite.users('root', 'alice', 'bob', 'carol');
  let roomId: string;
  let quietRoom: string;
  const sent: string[] = [];

  const asRoot = { token: '' };
  before(async () => {
    assert.equal(await suite.server.weft.storage.users.setAdmin(root.user_id, true), true);
    asRoot.token = root.access_token;
    roomId = await suite.createRoom(alice, {
      preset: 'public_chat',
      name: 'Reported Room',
      room_alias_name: 'reported',
    });
    quietRoom = await suite.createRoom(carol, { preset: 'public_chat' });
    await suite.join(bob, roomId);
    await suite.join(carol, roomId);
    await suite.join(bob, quietRoom);
    sent.push(await suite.send(alice, roomId, 'first offence'));
    sent.push(await suite.send(carol, roomId, 'second offence'));
    sent.push(await suite.send(carol, quietRoom, 'third offence'));
    const reportEvent = (who: typeof bob, room: string, eventId: string, reason: string) =>
      suite.postOk(who, `${CLIENT_V3}/rooms/${room}/report/${enc(eventId)}`, { reason });
    await reportEvent(bob, roomId, sent[0]!, 'rude');
    await reportEvent(bob, roomId, sent[1]!, 'spam');
    await reportEvent(alice, roomId, sent[1]!, 'also spam');
    await reportEvent(bob, quietRoom, sent[2]!, 'elsewhere');
    await suite.postOk(bob, `${CLIENT_V3}/rooms/${roomId}/report`, { reason: 'the whole room' });
    await suite.postOk(alice, `${CLIENT_V3}/users/${enc(carol.user_id)}/report`, {
      reason: 'harasses me',
    });
  });

  const eventReports = async (query = '') => {
    const res = await api.get<EventPage>(`${ADMIN}/event_reports${query}`, asRoot);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  it("lists event reports newest first with Synapse's fields", async () => {
    const page = await eventReports();
    assert.equal(page.total, 4);
    assert.equal(page.next_token, undefined);
    assert.deepEqual(
      page.event_reports.map((r) => [r.event_id, r.user_id, r.reason, r.sender]),
      [
        [sent[2], bob.user_id, 'elsewhere', carol.user_id],
        [sent[1], alice.user_id, 'also spam', carol.user_id],
        [sent[1], bob.user_id, 'spam', carol.user_id],
        [sent[0], bob.user_id, 'rude', alice.user_id],
      ],
    );
    const oldest = page.event_reports[3]!;
    assert.equal(oldest.room_id, roomId);
    assert.equal(oldest.name, 'Reported Room');
    assert.equal(oldest.canonical_alias, `#reported:${suite.server.config.server_name}`);
    assert.equal(oldest.score, null);
    assert.equal(typeof oldest.id, 'number');
    assert.ok(Math.abs(oldest.received_ts - Date.now()) < 60_000);
    // A room without a name or alias: both null.
    assert.equal(page.event_reports[0]!.name, null);
    assert.equal(page.event_reports[0]!.canonical_alias, null);
  });

  it('pages with from/limit/next_token and orders oldest first with dir=f', async () => {
    const first = await eventReports('?limit=3&dir=f');
    assert.deepEqual(
      first.event_reports.map((r) => r.reason),
      ['rude', 'spam', 'also spam'],
    );
    assert.equal(first.next_token, 3);
    const rest = await eventReports(`?limit=3&dir=f&from=${first.next_token}`);
    assert.deepEqual(
      rest.event_reports.map((r) => r.reason),
      ['elsewhere'],
    );
    assert.equal(rest.next_token, undefined);
    assert.equal(rest.total, 4);
  });

  it('filters by reporter, room and the reported event’s sender', async () => {
    const byAlice = await eventReports(`?user_id=${enc(alice.user_id)}`);
    assert.deepEqual(
      byAlice.event_reports.map((r) => r.reason),
      ['also spam'],
    );
    assert.equal(byAlice.total, 1);
    const inQuiet = await eventReports(`?room_id=${enc(quietRoom)}`);
    assert.deepEqual(
      inQuiet.event_reports.map((r) => r.reason),
      ['elsewhere'],
    );
    const againstCarol = await eventReports(`?event_sender_user_id=${enc(carol.user_id)}&dir=f`);
    assert.deepEqual(
      againstCarol.event_reports.map((r) => r.reason),
      ['spam', 'also spam', 'elsewhere'],
    );
  });

  it('gives one event report with its event, and deletes it', async () => {
    const [report] = (await eventReports(`?user_id=${enc(alice.user_id)}`)).event_reports;
    const url = `${ADMIN}/event_reports/${report!.id}`;
    const one = await api.get<EventReport>(url, asRoot);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.reason, 'also spam');
    assert.equal(one.body.event_json?.type, 'm.room.message');
    assert.equal(one.body.event_json?.sender, carol.user_id);
    assert.equal(one.body.event_json?.content.body, 'second offence');
    // Not a room or user report by that ID.
    expectError(await api.get(`${ADMIN}/room_reports/${report!.id}`, asRoot), 404, 'M_NOT_FOUND');
    const deleted = await api.delete(url, undefined, asRoot);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.deepEqual(deleted.body, {});
    expectError(await api.get(url, asRoot), 404, 'M_NOT_FOUND');
    expectError(await api.delete(url, undefined, asRoot), 404, 'M_NOT_FOUND');
    assert.equal((await eventReports()).total, 3);
  });

  it('lists, gives and deletes room reports', async () => {
    const res = await api.get<{ room_reports: Record<string, unknown>[]; total: number }>(
      `${ADMIN}/room_reports?room_id=${enc(roomId)}`,
      asRoot,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.total, 1);
    const [report] = res.body.room_reports;
    assert.equal(report!.room_id, roomId);
    assert.equal(report!.user_id, bob.user_id);
    assert.equal(report!.reason, 'the whole room');
    assert.equal(report!.name, 'Reported Room');
    assert.equal(report!.event_id, undefined);
    const url = `${ADMIN}/room_reports/${report!.id as number}`;
    assert.equal((await api.get(url, asRoot)).status, 200);
    assert.equal((await api.delete(url, undefined, asRoot)).status, 200);
    expectError(await api.get(url, asRoot), 404, 'M_NOT_FOUND');
  });

  it("lists, gives and deletes user reports (Synapse's target_user_id)", async () => {
    const list = async (query: string) =>
      (
        await api.get<{ user_reports: Record<string, unknown>[]; total: number }>(
          `${ADMIN}/user_reports${query}`,
          asRoot,
        )
      ).body;
    assert.equal((await list(`?target_user_id=${enc(bob.user_id)}`)).total, 0);
    const page = await list(`?target_user_id=${enc(carol.user_id)}`);
    assert.equal(page.total, 1);
    const [report] = page.user_reports;
    assert.deepEqual(
      [report!.target_user_id, report!.user_id, report!.reason],
      [carol.user_id, alice.user_id, 'harasses me'],
    );
    const url = `${ADMIN}/user_reports/${report!.id as number}`;
    const one = await api.get<Record<string, unknown>>(url, asRoot);
    assert.equal(one.body.reason, 'harasses me');
    assert.equal((await api.delete(url, undefined, asRoot)).status, 200);
    assert.equal((await list('')).total, 0);
  });

  it('refuses bad parameters with 400 M_INVALID_PARAM', async () => {
    for (const query of ['?from=-1', '?limit=x', '?dir=up', '?from=1.5']) {
      expectError(await api.get(`${ADMIN}/event_reports${query}`, asRoot), 400, 'M_INVALID_PARAM');
    }
    for (const id of ['abc', '-1', '1e3', '99999999999999999999']) {
      expectError(await api.get(`${ADMIN}/event_reports/${id}`, asRoot), 400, 'M_INVALID_PARAM');
      expectError(
        await api.delete(`${ADMIN}/user_reports/${id}`, undefined, asRoot),
        400,
        'M_INVALID_PARAM',
      );
    }
    expectError(await api.get(`${ADMIN}/user_reports/123456`, asRoot), 404, 'M_NOT_FOUND');
  });

  it('refuses users who are not server admins with 403', async () => {
    for (const path of ['event_reports', 'room_reports', 'user_reports', 'event_reports/1']) {
      expectError(
        await api.get(`${ADMIN}/${path}`, { token: bob.access_token }),
        403,
        'M_FORBIDDEN',
      );
    }
    expectError(
      await api.delete(`${ADMIN}/event_reports/1`, undefined, { token: bob.access_token }),
      403,
      'M_FORBIDDEN',
    );
  });
});
