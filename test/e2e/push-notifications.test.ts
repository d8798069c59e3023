/**
 * Push rules at work over HTTP against a real server, with a real local HTTP
 * server as the push gateway: unread counts in /sync (mentions, muted rooms,
 * threads, the sender's own message), GET /notifications, pusher CRUD and its
 * refusals, and what the gateway receives (full and event_id_only bodies, a
 * retry after a 500, a rejected pushkey removing its pusher).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CLIENT_V3,
  serverSuite,
  type Session,
  type SyncBody,
  withServer,
} from '../support/fixture.js';
import {
  assertMatchesSpecDefinition,
  assertResponseMatchesSpec,
  assertSpecError,
} from '../support/spec-schemas.js';

type Body = Record<string, unknown>;
interface Counts {
  notification_count: number;
  highlight_count: number;
}
interface GatewayNotification {
  event_id?: string;
  room_id?: string;
  prio?: string;
  counts?: Body;
  devices: { app_id: string; pushkey: string; pushkey_ts: number; data: Body; tweaks: Body }[];
  [key: string]: unknown;
}

const PUSHERS = `${CLIENT_V3}/pushers`;
const SET_PUSHER = `${CLIENT_V3}/pushers/set`;
const NOTIFICATIONS = `${CLIENT_V3}/notifications`;
const GATEWAY_SCHEMA =
  '../push-gateway/push_notifier.yaml#/paths/~1notify/post/requestBody/content/application~1json/schema';

/** A push gateway: records what it receives, answers with the queued statuses and bodies. */
class Gateway {
  readonly received: GatewayNotification[] = [];
  private readonly answers: { status: number; body: Body }[] = [];
  private readonly server: Server;
  private waiting: (() => void)[] = [];

  constructor() {
    this.server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const answer = this.answers.shift() ?? { status: 200, body: { rejected: [] } };
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
        const body = JSON.parse(text) as { notification: GatewayNotification };
        assert.equal(req.url, '/_matrix/push/v1/notify');
        this.received.push(body.notification);
        this.waiting.splice(0).forEach((wake) => wake());
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/_matrix/push/v1/notify`;
  }

  answerNext(status: number, body: Body = {}): void {
    this.answers.push({ status, body });
  }

  /** Every notification received for the event, once `count` of them have come. */
  async forEvent(eventId: string, count = 1, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.filter((n) => n.event_id === eventId);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`gateway: no push for ${eventId} (got ${found.length})`);
      await new Promise<void>((resolve) => {
        this.waiting.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A joined room's unread counts in a sync body. */
function countsIn(body: SyncBody, roomId: string): Counts | undefined {
  return (body.rooms.join[roomId] as unknown as { unread_notifications?: Counts } | undefined)
    ?.unread_notifications;
}

describe('push notifications', () => {
  const suite = serverSuite({ push: { retry_initial_ms: 50 } });
  const { api } = suite;
  const [alice, bob, carol] = suite.users('alice', 'bob', 'carol');
  let gateway: Gateway;
  let gatewayUrl: string;
  let dm: string;
  let group: string;

  const as = (who: Session) => ({ token: who.access_token });

  const pusherBody = (overrides: Body = {}): Body => ({
    kind: 'http',
    app_id: 'org.example.weft',
    pushkey: 'bob-key',
    app_display_name: 'Weft tests',
    device_display_name: 'Test phone',
    lang: 'en',
    data: { url: gatewayUrl, custom: 'kept' },
    ...overrides,
  });

  const setPusher = async (who: Session, body: Body) => {
    const res = await api.post(SET_PUSHER, body, as(who));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertResponseMatchesSpec('post', SET_PUSHER, 200, res.body);
  };

  const pushersOf = async (who: Session) => {
    const res = await api.get(PUSHERS, as(who));
    assert.equal(res.status, 200);
    assertResponseMatchesSpec('get', PUSHERS, 200, res.body);
    return res.body.pushers as Body[];
  };

  const sendContent = async (who: Session, roomId: string, content: Body) => {
    const txn = `t${Math.random().toString(36).slice(2)}`;
    const res = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/${txn}`,
      content,
      as(who),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return String(res.body.event_id);
  };

  /** The user's current counts in the room (an initial sync shows every joined room). */
  const countsNow = async (who: Session, roomId: string): Promise<Counts> => {
    const counts = countsIn(await suite.sync(who), roomId);
    assert.ok(counts, `no section for ${roomId}`);
    return counts;
  };

  before(async () => {
    gateway = new Gateway();
    gatewayUrl = await gateway.listen();
    dm = await suite.createRoom(alice, {
      preset: 'trusted_private_chat',
      is_direct: true,
      invite: [bob.user_id],
    });
    await suite.join(bob, dm);
    group = await suite.createRoom(alice, { preset: 'public_chat' });
    await suite.join(bob, group);
    await suite.join(carol, group);
  });
  after(() => gateway.close());

  describe('unread counts in /sync', () => {
    it('a message counts for the other members, not the sender, in the same sync', async () => {
      const since = (await suite.sync(bob)).next_batch;
      const eventId = await suite.send(alice, group, 'hello all');
      const sync = await suite.sync(bob, { since, timeout: '0' });
      const timeline = sync.rooms.join[group]?.timeline.events ?? [];
      assert.ok(timeline.some((e) => e.event_id === eventId));
      assert.deepEqual(countsIn(sync, group), { notification_count: 1, highlight_count: 0 });
      assert.deepEqual(await countsNow(alice, group), {
        notification_count: 0,
        highlight_count: 0,
      });
    });

    it('a mention of the user (m.mentions.user_ids) highlights only for them', async () => {
      const carolBefore = await countsNow(carol, group);
      const bobBefore = await countsNow(bob, group);
      await sendContent(alice, group, {
        msgtype: 'm.text',
        body: 'bob: look',
        'm.mentions': { user_ids: [bob.user_id] },
      });
      const bobAfter = await countsNow(bob, group);
      assert.equal(bobAfter.highlight_count, bobBefore.highlight_count + 1);
      assert.equal(bobAfter.notification_count, bobBefore.notification_count + 1);
      const carolAfter = await countsNow(carol, group);
      assert.equal(carolAfter.highlight_count, carolBefore.highlight_count);
      assert.equal(carolAfter.notification_count, carolBefore.notification_count + 1);
    });

    it('m.mentions.room highlights only from a sender with the notifications.room power level', async () => {
      // A room of its own, so the highlights stay out of the other tests' counts.
      const dave = await api.register('dave');
      const room = await suite.createRoom(alice, { preset: 'public_chat' });
      await suite.join(carol, room);
      await suite.join(dave, room);
      const roomMention = { msgtype: 'm.text', body: 'everyone!', 'm.mentions': { room: true } };
      // Alice created the room (power level 100); notifications.room defaults to 50.
      await sendContent(alice, room, roomMention);
      assert.deepEqual(await countsNow(dave, room), { notification_count: 1, highlight_count: 1 });
      // Carol has power level 0: her room mention is an ordinary message.
      await sendContent(carol, room, roomMention);
      assert.deepEqual(await countsNow(dave, room), { notification_count: 2, highlight_count: 1 });
    });

    it("sending a message resets the sender's counts (it moves their read position)", async () => {
      assert.ok((await countsNow(bob, group)).notification_count > 0);
      const since = (await suite.sync(bob)).next_batch;
      await suite.send(bob, group, 'read it all');
      const sync = await suite.sync(bob, { since, timeout: '0' });
      assert.deepEqual(countsIn(sync, group), { notification_count: 0, highlight_count: 0 });
    });

    it('a read receipt resets the counts up to the event read, in the sync that carries it', async () => {
      const first = await suite.send(alice, group, 'unread one');
      const second = await suite.send(alice, group, 'unread two');
      const before = await countsNow(carol, group);
      assert.ok(before.notification_count >= 2);
      const since = (await suite.sync(carol)).next_batch;
      const receipt = (eventId: string) =>
        api.post(`${CLIENT_V3}/rooms/${group}/receipt/m.read/${eventId}`, {}, as(carol));
      assert.equal((await receipt(first)).status, 200);
      const sync = await suite.sync(carol, { since, timeout: '0' });
      assert.deepEqual(countsIn(sync, group), { notification_count: 1, highlight_count: 0 });
      assert.equal((await receipt(second)).status, 200);
      assert.deepEqual(await countsNow(carol, group), {
        notification_count: 0,
        highlight_count: 0,
      });
    });

    it('an ignored sender notifies nobody who ignores them', async () => {
      const erin = await api.register('erin');
      const frank = await api.register('frank');
      const room = await suite.createRoom(erin, { preset: 'public_chat' });
      await suite.join(frank, room);
      await suite.join(carol, room);
      const ignore = await api.put(
        `${CLIENT_V3}/user/${encodeURIComponent(frank.user_id)}/account_data/m.ignored_user_list`,
        { ignored_users: { [erin.user_id]: {} } },
        as(frank),
      );
      assert.equal(ignore.status, 200);
      await suite.send(erin, room, 'from an ignored sender');
      assert.deepEqual(await countsNow(frank, room), { notification_count: 0, highlight_count: 0 });
      assert.deepEqual(await countsNow(carol, room), { notification_count: 1, highlight_count: 0 });
    });

    it('muting a room zeroes its counts while messages still arrive', async () => {
      const roomRule = `${CLIENT_V3}/pushrules/global/room/${encodeURIComponent(group)}`;
      const overrideRule = `${CLIENT_V3}/pushrules/global/override/mute-group`;
      const mute = {
        actions: [],
        conditions: [{ kind: 'event_match', key: 'room_id', pattern: group }],
      };
      await suite.send(carol, group, 'reset carol');
      const since = (await suite.sync(carol)).next_batch;
      // "Mentions only" (a room rule): plain messages are silent.
      assert.equal((await api.put(roomRule, { actions: [] }, as(carol))).status, 200);
      const plain = await suite.send(alice, group, 'nothing for carol');
      // Muted (an override rule): mentions too.
      assert.equal((await api.put(overrideRule, mute, as(carol))).status, 200);
      const mention = await sendContent(alice, group, {
        msgtype: 'm.text',
        body: 'carol!',
        'm.mentions': { user_ids: [carol.user_id] },
      });
      const sync = await suite.sync(carol, { since, timeout: '0' });
      const timeline = (sync.rooms.join[group]?.timeline.events ?? []).map((e) => e.event_id);
      assert.ok(timeline.includes(plain) && timeline.includes(mention));
      assert.deepEqual(countsIn(sync, group), { notification_count: 0, highlight_count: 0 });
      assert.equal((await api.delete(roomRule, undefined, as(carol))).status, 200);
      assert.equal((await api.delete(overrideRule, undefined, as(carol))).status, 200);
    });

    it('counts per thread when the filter asks (unread_thread_notifications)', async () => {
      await suite.send(bob, group, 'reset bob');
      const root = await suite.send(alice, group, 'thread root');
      await sendContent(alice, group, {
        msgtype: 'm.text',
        body: 'in thread',
        'm.relates_to': { rel_type: 'm.thread', event_id: root },
      });
      const filter = JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } });
      const section = (await suite.sync(bob, { filter })).rooms.join[group] as unknown as Body;
      assert.deepEqual(section.unread_notifications, { notification_count: 1, highlight_count: 0 });
      assert.deepEqual(section.unread_thread_notifications, {
        [root]: { notification_count: 1, highlight_count: 0 },
      });
      // Without the filter: one count over every thread.
      assert.deepEqual(await countsNow(bob, group), { notification_count: 2, highlight_count: 0 });
    });
  });

  describe('GET /notifications', () => {
    it('lists notifications newest first, pages with from, keeps highlights with only=highlight', async () => {
      const first = await api.get(`${NOTIFICATIONS}?limit=2`, as(bob));
      assert.equal(first.status, 200);
      assertResponseMatchesSpec('get', NOTIFICATIONS, 200, first.body);
      const page = first.body.notifications as Body[];
      assert.equal(page.length, 2);
      const [newest, next] = page as { event: { body?: unknown; content: Body }; ts: number }[];
      assert.equal(newest!.event.content.body, 'in thread');
      assert.equal(next!.event.content.body, 'thread root');
      assert.equal(typeof first.body.next_token, 'string');
      const second = await api.get(
        `${NOTIFICATIONS}?limit=2&from=${first.body.next_token}`,
        as(bob),
      );
      const bodies = (second.body.notifications as { event: { content: Body } }[]).map(
        (n) => n.event.content.body,
      );
      assert.ok(!bodies.includes('in thread') && bodies.length > 0);
      const highlights = await api.get(`${NOTIFICATIONS}?only=highlight`, as(bob));
      const listed = highlights.body.notifications as { event: { content: Body }; read: boolean }[];
      assert.deepEqual(
        listed.map((n) => n.event.content.body),
        ['bob: look'],
      );
      assert.equal(listed[0]!.read, true, 'bob sent a message after it');
    });
  });

  describe('pushers', () => {
    it('refuses bodies the spec does not allow', async () => {
      const cases: [Body, string][] = [
        [{ ...pusherBody(), lang: undefined, data: undefined }, 'M_MISSING_PARAM'],
        [{ ...pusherBody(), app_display_name: undefined }, 'M_MISSING_PARAM'],
        [pusherBody({ data: { url: gatewayUrl.replace('/notify', '/other') } }), 'M_INVALID_PARAM'],
        [
          pusherBody({ data: { url: 'http://push.example.org/_matrix/push/v1/notify' } }),
          'M_INVALID_PARAM',
        ],
        [pusherBody({ kind: 'email' }), 'M_INVALID_PARAM'],
      ];
      for (const [body, errcode] of cases) {
        const res = await api.post(SET_PUSHER, body, as(bob));
        assert.equal(res.status, 400, JSON.stringify(body));
        assertSpecError(res.body, errcode);
      }
      assert.deepEqual(await pushersOf(bob), []);
    });

    it('sets, lists, replaces other users on the same pushkey unless append, and deletes', async () => {
      await setPusher(bob, pusherBody({ pushkey: 'shared' }));
      await setPusher(carol, pusherBody({ pushkey: 'shared', append: true }));
      assert.equal((await pushersOf(bob)).length, 1);
      assert.deepEqual(await pushersOf(carol), [
        {
          pushkey: 'shared',
          kind: 'http',
          app_id: 'org.example.weft',
          app_display_name: 'Weft tests',
          device_display_name: 'Test phone',
          lang: 'en',
          data: { url: gatewayUrl, custom: 'kept' },
        },
      ]);
      await setPusher(carol, pusherBody({ pushkey: 'shared' }));
      assert.deepEqual(await pushersOf(bob), [], 'append false removes the other user’s');
      await setPusher(carol, { kind: null, app_id: 'org.example.weft', pushkey: 'shared' });
      assert.deepEqual(await pushersOf(carol), []);
    });

    it('goes with the device that set it (logout)', async () => {
      const login = await api.login('carol');
      assert.equal(login.status, 200);
      const device = login.body;
      await setPusher(device, pusherBody({ pushkey: 'carol-phone' }));
      assert.equal((await pushersOf(carol)).length, 1);
      assert.equal((await api.post(`${CLIENT_V3}/logout`, {}, as(device))).status, 200);
      assert.deepEqual(await pushersOf(carol), []);
    });
  });

  describe('delivery to the push gateway', () => {
    it('pushes a DM message with counts, prio, tweaks and the data without url', async () => {
      await setPusher(bob, pusherBody());
      const eventId = await suite.send(alice, dm, 'ping bob');
      const [notification] = await gateway.forEvent(eventId);
      assertMatchesSpecDefinition(GATEWAY_SCHEMA, { notification });
      assert.equal(notification!.room_id, dm);
      assert.equal(notification!.type, 'm.room.message');
      assert.equal(notification!.sender, alice.user_id);
      assert.deepEqual(notification!.content, { msgtype: 'm.text', body: 'ping bob' });
      assert.equal(notification!.prio, 'high', 'room_one_to_one sets a sound');
      assert.ok(Number(notification!.counts?.unread) >= 1);
      const [device] = notification!.devices;
      assert.equal(device!.app_id, 'org.example.weft');
      assert.equal(device!.pushkey, 'bob-key');
      assert.equal(typeof device!.pushkey_ts, 'number');
      assert.deepEqual(device!.data, { custom: 'kept' });
      assert.deepEqual(device!.tweaks, { sound: 'default' });
    });

    it('pushes nothing for a muted room', async () => {
      const rule = `${CLIENT_V3}/pushrules/global/room/${encodeURIComponent(group)}`;
      assert.equal((await api.put(rule, { actions: ['dont_notify'] }, as(bob))).status, 200);
      const muted = await suite.send(alice, group, 'muted for bob');
      const later = await suite.send(alice, dm, 'after the muted one');
      // Pushes go out in stream order: once the later one arrived, the muted one would have too.
      await gateway.forEvent(later);
      assert.equal(gateway.received.filter((n) => n.event_id === muted).length, 0);
      assert.equal((await api.delete(rule, undefined, as(bob))).status, 200);
    });

    it('retries after a 500 from the gateway', async () => {
      gateway.answerNext(500, { error: 'try later' });
      const eventId = await suite.send(alice, dm, 'retry me');
      const tries = await gateway.forEvent(eventId, 2);
      assert.equal(tries.length, 2);
    });

    it('sends only event_id, room_id, counts and devices with format event_id_only', async () => {
      await setPusher(bob, pusherBody({ data: { url: gatewayUrl, format: 'event_id_only' } }));
      const eventId = await suite.send(alice, dm, 'secret');
      const [notification] = await gateway.forEvent(eventId);
      assertMatchesSpecDefinition(GATEWAY_SCHEMA, { notification });
      assert.deepEqual(Object.keys(notification!).sort(), [
        'counts',
        'devices',
        'event_id',
        'room_id',
      ]);
      assert.deepEqual(notification!.devices[0]!.data, { format: 'event_id_only' });
    });

    it('removes the pusher of a pushkey the gateway rejects', async () => {
      gateway.answerNext(200, { rejected: ['bob-key'] });
      const eventId = await suite.send(alice, dm, 'rejected');
      await gateway.forEvent(eventId);
      const deadline = Date.now() + 2_000;
      while ((await pushersOf(bob)).length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.deepEqual(await pushersOf(bob), []);
    });
  });

  describe('after a restart', () => {
    it('evaluates the events committed but not evaluated before it stopped', async () => {
      // Push switched off stands for a crash between the commit and the evaluation.
      await withServer(
        async (own) => {
          const dan = await own.register('dan');
          const eve = await own.register('eve');
          const roomId = await own.createRoom(dan, { preset: 'public_chat' });
          await own.join(eve, roomId);
          await own.send(dan, roomId, 'while push was off');
          await own.server.restart({ push: { enabled: true } });
          const sync = await own.sync(eve);
          assert.deepEqual(countsIn(sync, roomId), { notification_count: 1, highlight_count: 0 });
        },
        { config: { push: { enabled: false } } },
      );
    });
  });
});

describe('push.legacy_mention_rules', () => {
  it('restores v1.16’s mention rules, for events without m.mentions only', async () => {
    await withServer(
      async (own) => {
        const dan = await own.register('dan');
        const eve = await own.register('eve');
        const roomId = await own.createRoom(dan, { preset: 'public_chat' });
        await own.join(eve, roomId);
        const rules = await own.api.get(`${CLIENT_V3}/pushrules/`, { token: eve.access_token });
        const content = (rules.body.global as Record<string, { rule_id: string }[]>).content!;
        assert.deepEqual(
          content.map((rule) => rule.rule_id),
          ['.m.rule.contains_user_name'],
        );
        // An old client's message naming Eve highlights; a v1.7 client's, without her in
        // m.mentions, does not; "@room" from the room's creator highlights too.
        await own.send(dan, roomId, 'eve, are you there?');
        const counts = async () => countsIn(await own.sync(eve), roomId);
        assert.deepEqual(await counts(), { notification_count: 1, highlight_count: 1 });
        const modern = { msgtype: 'm.text', body: 'eve, are you there?', 'm.mentions': {} };
        const sent = await own.api.put(
          `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/new-client`,
          modern,
          { token: dan.access_token },
        );
        assert.equal(sent.status, 200);
        assert.deepEqual(await counts(), { notification_count: 2, highlight_count: 1 });
        await own.send(dan, roomId, '@room lunch');
        assert.deepEqual(await counts(), { notification_count: 3, highlight_count: 2 });
      },
      { config: { push: { legacy_mention_rules: true } } },
    );
  });
});
