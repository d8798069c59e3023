/**
 * The receipt checks in order, against a remote server played by the test
 * (a FederationSender answering /get_missing_events, /state_ids, /event,
 * /event_auth from a room it built). Storage here is an in-memory stand-in
 * for E1's received-event stores, written to the ReceiverStore and
 * ReceivedEventWriter contracts; once those stores exist this suite should
 * run on them (test/storage) instead.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { stateMapKey } from '../../src/events/auth-rules.js';
import type { StateIds } from '../../src/events/records.js';
import { roomVersion } from '../../src/events/room-versions.js';
import {
  EventReceiver,
  type HeldEvent,
  type OutlierWrite,
  type ReceivedEventWrite,
  type ReceiverStore,
} from '../../src/federation/event-receiver.js';
import type { FederationRequest, FederationResponse } from '../../src/federation/outbound.js';
import { RemoteEvents } from '../../src/federation/remote-events.js';
import {
  buildEvent,
  knownKey,
  LOCAL,
  REMOTE,
  type BuiltEvent,
} from '../support/federation-events.js';

const V11 = roomVersion('11');
const ROOM = '!room:remote.example';
const ALICE = `@alice:${REMOTE}`;
const MALLORY = `@mallory:${REMOTE}`;
const BOB = `@bob:${LOCAL}`;

/** Held events and the state after each, as the stores would keep them. */
class MemoryRoom implements ReceiverStore {
  readonly events = new Map<string, HeldEvent & { softFailed?: boolean }>();
  readonly after = new Map<string, StateIds>();
  extremities: string[] = [];
  received: ReceivedEventWrite[] = [];
  outliers: OutlierWrite[] = [];

  seed(events: BuiltEvent[]): void {
    let state: StateIds = new Map();
    for (const e of events) {
      this.events.set(e.eventId, { ...e, roomId: ROOM, outlier: false });
      state = new Map(state);
      if (e.pdu.state_key !== undefined)
        state.set(stateMapKey(e.pdu.type, e.pdu.state_key), e.eventId);
      this.after.set(e.eventId, state);
    }
    this.extremities = [events.at(-1)!.eventId];
  }

  async roomVersion(roomId: string) {
    return roomId === ROOM ? '11' : undefined;
  }
  async heldEvents(ids: string[]) {
    return ids.flatMap((id) => (this.events.has(id) ? [this.events.get(id)!] : []));
  }
  async stateIdsAfter(id: string) {
    return this.after.get(id);
  }
  async forwardExtremities() {
    return this.extremities.map((eventId) => ({
      eventId,
      depth: this.events.get(eventId)!.pdu.depth,
    }));
  }
  async currentStateIdsFor() {
    return this.after.get(this.extremities[0]!) ?? new Map();
  }
  async hasJoinedMember(_roomId: string, server: string) {
    const state = await this.currentStateIdsFor();
    return [...state.values()].some((id) => {
      const e = this.events.get(id)!.pdu;
      return (
        e.type === 'm.room.member' &&
        e.state_key!.endsWith(`:${server}`) &&
        e.content.membership === 'join'
      );
    });
  }

  async persistReceived(_roomId: string, writes: ReceivedEventWrite[]) {
    for (const w of writes) {
      this.received.push(w);
      const { event, stateBefore, rejectedReason, softFailed } = w;
      this.events.set(event.eventId, {
        ...event,
        roomId: ROOM,
        outlier: false,
        rejectedReason,
        softFailed,
      });
      const after = new Map(stateBefore);
      if (!rejectedReason && event.pdu.state_key !== undefined) {
        after.set(stateMapKey(event.pdu.type, event.pdu.state_key), event.eventId);
      }
      this.after.set(event.eventId, after);
      if (!rejectedReason && !softFailed) {
        this.extremities = [
          ...this.extremities.filter((id) => !event.pdu.prev_events.includes(id)),
          event.eventId,
        ];
      }
    }
  }
  async persistOutliers(_roomId: string, writes: OutlierWrite[]) {
    for (const w of writes) {
      this.outliers.push(w);
      this.events.set(w.event.eventId, {
        ...w.event,
        roomId: ROOM,
        outlier: true,
        rejectedReason: w.rejectedReason,
      });
    }
  }
}

/** The origin server: answers from the events it holds, and records what it was asked. */
class RemoteServer {
  readonly held = new Map<string, BuiltEvent>();
  readonly asked: string[] = [];
  /** State before each event, as IDs (what /state_ids answers). */
  readonly stateBefore = new Map<string, string[]>();

  async request(req: FederationRequest): Promise<FederationResponse> {
    const path = req.path.replace('/_matrix/federation/v1', '');
    this.asked.push(`${req.method} ${path.split('?')[0]!.split('/')[1]}`);
    const id = decodeURIComponent(path.split('/').at(-1)!.split('?')[0]!);
    if (path.startsWith('/event/')) {
      const event = this.held.get(id);
      return event ? { status: 200, body: { pdus: [event.pdu] } } : { status: 404, body: {} };
    }
    if (path.startsWith('/get_missing_events/')) {
      const body = req.body as {
        earliest_events: string[];
        latest_events: string[];
        limit: number;
      };
      return {
        status: 200,
        body: { events: this.missing(body.earliest_events, body.latest_events, body.limit) },
      };
    }
    if (path.startsWith('/event_auth/')) {
      return { status: 200, body: { auth_chain: this.authChain(id).map((e) => e.pdu) } };
    }
    if (path.startsWith('/state_ids/')) {
      const at = decodeURIComponent(new URLSearchParams(path.split('?')[1]).get('event_id')!);
      const pduIds = this.stateBefore.get(at) ?? [];
      const chain = pduIds.flatMap((s) => this.authChain(s).map((e) => e.eventId));
      return { status: 200, body: { pdu_ids: pduIds, auth_chain_ids: [...new Set(chain)] } };
    }
    return { status: 404, body: {} };
  }

  private missing(earliest: string[], latest: string[], limit: number) {
    const seen = new Set([...earliest, ...latest]);
    const out: BuiltEvent[] = [];
    let frontier = latest.flatMap((id) => this.held.get(id)?.pdu.prev_events ?? []);
    while (frontier.length > 0 && out.length < limit) {
      const next: string[] = [];
      for (const id of frontier) {
        if (seen.has(id) || !this.held.has(id) || out.length >= limit) continue;
        seen.add(id);
        out.push(this.held.get(id)!);
        next.push(...this.held.get(id)!.pdu.prev_events);
      }
      frontier = next;
    }
    return out.reverse().map((e) => e.pdu);
  }

  private authChain(id: string): BuiltEvent[] {
    const out = new Map<string, BuiltEvent>();
    const walk = (eventId: string) => {
      for (const a of this.held.get(eventId)?.pdu.auth_events ?? []) {
        if (!out.has(a) && this.held.has(a)) {
          out.set(a, this.held.get(a)!);
          walk(a);
        }
      }
    };
    walk(id);
    return [...out.values()];
  }
}

/** A v11 room made by alice on remote.example, with bob of this server joined. */
function makeRoom() {
  const ev = (
    type: string,
    sender: string,
    prev: BuiltEvent[],
    auth: BuiltEvent[],
    stateKey?: string,
    content = {},
  ) => buildEvent(V11, ROOM, { type, sender, prev, auth, stateKey, content });
  const create = ev('m.room.create', ALICE, [], [], '', { room_version: '11' });
  const aliceJoin = ev('m.room.member', ALICE, [create], [create], ALICE, { membership: 'join' });
  const power = ev('m.room.power_levels', ALICE, [aliceJoin], [create, aliceJoin], '', {
    users: { [ALICE]: 100 },
  });
  const rules = ev('m.room.join_rules', ALICE, [power], [create, aliceJoin, power], '', {
    join_rule: 'public',
  });
  const bobJoin = ev('m.room.member', BOB, [rules], [create, power, rules], BOB, {
    membership: 'join',
  });
  const authMsg = [create, aliceJoin, power];
  return {
    create,
    aliceJoin,
    power,
    rules,
    bobJoin,
    authMsg,
    ev,
    all: [create, aliceJoin, power, rules, bobJoin],
  };
}

describe('receiving PDUs', () => {
  let store: MemoryRoom;
  let remote: RemoteServer;
  let receiver: EventReceiver;
  let room: ReturnType<typeof makeRoom>;
  const message = (body: string, prev: BuiltEvent[], sender = ALICE) =>
    room.ev('m.room.message', sender, prev, room.authMsg, undefined, { msgtype: 'm.text', body });

  beforeEach(() => {
    room = makeRoom();
    store = new MemoryRoom();
    store.seed(room.all);
    remote = new RemoteServer();
    for (const e of room.all) remote.held.set(e.eventId, e);
    receiver = new EventReceiver({
      serverName: LOCAL,
      store,
      writer: store,
      keys: { verifyKeyFor: async (server, keyId) => knownKey(server, keyId) },
      remote: new RemoteEvents(remote),
      resolveState: async () => assert.fail('no fork in these tests'),
      logger: { info() {}, warn() {}, error() {} },
    });
  });

  it('accepts an event built on the room, with the state before it', async () => {
    const hello = message('hello', [room.bobJoin]);
    assert.deepEqual(await receiver.receivePdus(REMOTE, [hello.pdu]), { [hello.eventId]: {} });
    assert.equal(store.received.length, 1);
    assert.deepEqual(store.received[0]!.stateBefore, store.after.get(room.bobJoin.eventId));
    assert.equal(store.received[0]!.rejectedReason, undefined);
    assert.deepEqual(store.extremities, [hello.eventId]);
  });

  it('a repeated PDU is recognised, not checked or stored again', async () => {
    const hello = message('hello', [room.bobJoin]);
    await receiver.receivePdus(REMOTE, [hello.pdu]);
    assert.deepEqual(await receiver.receivePdus(REMOTE, [hello.pdu]), { [hello.eventId]: {} });
    assert.equal(store.received.length, 1);
  });

  it('rejects an event its auth events do not allow, stores it marked, and goes on', async () => {
    const intruder = room.ev(
      'm.room.message',
      MALLORY,
      [room.bobJoin],
      [room.create, room.power],
      undefined,
      {
        body: 'hi',
      },
    );
    const after = message('after', [room.bobJoin]);
    const results = await receiver.receivePdus(REMOTE, [intruder.pdu, after.pdu]);
    assert.match(results[intruder.eventId]!.error!, /5 sender not joined/);
    assert.deepEqual(results[after.eventId], {});
    assert.ok(store.events.get(intruder.eventId)!.rejectedReason);
  });

  it('drops an event with a bad signature and answers why', async () => {
    const hello = message('hello', [room.bobJoin]);
    const forged = { ...hello.pdu, depth: hello.pdu.depth + 1 };
    const results = await receiver.receivePdus(REMOTE, [forged]);
    const [entry] = Object.values(results);
    assert.match(entry!.error!, /does not verify/);
    assert.equal(store.received.length, 0);
  });

  it('keeps the redacted copy of an event whose content hash does not match', async () => {
    const hello = message('hello', [room.bobJoin]);
    const altered = { ...hello.pdu, content: { msgtype: 'm.text', body: 'altered' } };
    assert.deepEqual(await receiver.receivePdus(REMOTE, [altered]), { [hello.eventId]: {} });
    assert.deepEqual(store.received[0]!.event.pdu.content, {});
  });

  it('refuses events of a room this server has no user in, and ignores unknown rooms', async () => {
    const leave = room.ev(
      'm.room.member',
      BOB,
      [room.bobJoin],
      [room.create, room.power, room.bobJoin],
      BOB,
      {
        membership: 'leave',
      },
    );
    await receiver.receivePdus(REMOTE, [leave.pdu]);
    const hello = message('hello', [leave]);
    const results = await receiver.receivePdus(REMOTE, [
      hello.pdu,
      { ...hello.pdu, room_id: '!unknown:x' },
    ]);
    assert.deepEqual(Object.keys(results), [hello.eventId]);
    assert.match(results[hello.eventId]!.error!, /no user in the room/);
  });

  it('fills a short gap with /get_missing_events, oldest first', async () => {
    const one = message('one', [room.bobJoin]);
    const two = message('two', [one]);
    const three = message('three', [two]);
    for (const e of [one, two, three]) remote.held.set(e.eventId, e);
    assert.deepEqual(await receiver.receivePdus(REMOTE, [three.pdu]), { [three.eventId]: {} });
    assert.deepEqual(
      store.received.map((w) => w.event.eventId),
      [one.eventId, two.eventId, three.eventId],
    );
    assert.deepEqual(remote.asked, ['POST get_missing_events']);
  });

  it('refuses a pushed event whose prev_events the origin does not divulge', async () => {
    const hidden = message('hidden', [room.bobJoin]);
    const shown = message('shown', [hidden]);
    const results = await receiver.receivePdus(REMOTE, [shown.pdu]);
    assert.match(results[shown.eventId]!.error!, /prev_events/);
    assert.equal(store.received.length, 0);
  });

  it('takes the state at a pulled event’s unknown prev from /state_ids, its events from /event', async () => {
    // A topic set beyond the gap /get_missing_events fills: 11 messages after it.
    const topic = room.ev('m.room.topic', ALICE, [room.bobJoin], room.authMsg, '', {
      topic: 'far',
    });
    remote.held.set(topic.eventId, topic);
    remote.stateBefore.set(
      topic.eventId,
      room.all.map((e) => e.eventId),
    );
    let previous = topic;
    const chain: BuiltEvent[] = [];
    for (let i = 0; i < 11; i++) {
      previous = message(`m${i}`, [previous]);
      remote.held.set(previous.eventId, previous);
      chain.push(previous);
    }
    const last = chain.at(-1)!;
    assert.deepEqual(await receiver.receivePdus(REMOTE, [last.pdu]), { [last.eventId]: {} });
    // The 10 before the last were pulled; the oldest of them (m0) builds on the unknown topic
    // event, which came as an outlier with the state at it: the state before m0 holds it.
    assert.deepEqual(
      store.received.map((w) => w.event.eventId),
      chain.map((e) => e.eventId),
    );
    assert.ok(store.outliers.some((w) => w.event.eventId === topic.eventId));
    assert.equal(
      store.received[0]!.stateBefore.get(stateMapKey('m.room.topic', '')),
      topic.eventId,
    );
    assert.ok(remote.asked.includes('GET state_ids'));
    assert.ok(remote.asked.includes('GET event'));
  });

  it('fetches unknown auth events with /event_auth and stores them as outliers', async () => {
    // A power level change on a branch this server has not seen names the message's auth events.
    const rename = room.ev('m.room.name', ALICE, [room.bobJoin], room.authMsg, '', { name: 'x' });
    const power2 = room.ev('m.room.power_levels', ALICE, [rename], room.authMsg, '', {
      users: { [ALICE]: 100 },
      events: { 'm.room.message': 10 },
    });
    for (const e of [rename, power2]) remote.held.set(e.eventId, e);
    const auth = [room.create, room.aliceJoin, power2];
    const hello = room.ev('m.room.message', ALICE, [room.bobJoin], auth, undefined, { body: 'x' });
    remote.held.set(hello.eventId, hello);
    assert.deepEqual(await receiver.receivePdus(REMOTE, [hello.pdu]), { [hello.eventId]: {} });
    assert.deepEqual(remote.asked, ['GET event_auth']);
    assert.deepEqual(
      store.outliers.map((w) => [w.event.eventId, w.rejectedReason]),
      [[power2.eventId, undefined]],
    );
    assert.deepEqual(
      store.received.map((w) => w.event.eventId),
      [hello.eventId],
    );
  });

  it('rejects an event whose auth events cannot be found anywhere', async () => {
    const ghost = room.ev('m.room.power_levels', ALICE, [room.bobJoin], room.authMsg, '', {
      users: { [ALICE]: 100 },
    });
    const hello = room.ev(
      'm.room.message',
      ALICE,
      [room.bobJoin],
      [room.create, room.aliceJoin, ghost],
      undefined,
      {
        body: 'x',
      },
    );
    const results = await receiver.receivePdus(REMOTE, [hello.pdu]);
    assert.match(results[hello.eventId]!.error!, /auth events/);
    assert.ok(remote.asked.includes('GET event_auth'));
  });

  it('soft-fails an event allowed at its place but not by the current state', async () => {
    // Alice bans mallory after mallory joined; mallory's message built before the ban arrives after it.
    const malloryJoin = room.ev(
      'm.room.member',
      MALLORY,
      [room.bobJoin],
      [room.create, room.power, room.rules],
      MALLORY,
      {
        membership: 'join',
      },
    );
    await receiver.receivePdus(REMOTE, [malloryJoin.pdu]);
    const ban = room.ev(
      'm.room.member',
      ALICE,
      [malloryJoin],
      [room.create, room.aliceJoin, room.power, malloryJoin],
      MALLORY,
      {
        membership: 'ban',
      },
    );
    await receiver.receivePdus(REMOTE, [ban.pdu]);
    const sneaky = room.ev(
      'm.room.message',
      MALLORY,
      [malloryJoin],
      [room.create, room.power, malloryJoin],
      undefined,
      {
        body: 'still here',
      },
    );
    assert.deepEqual(await receiver.receivePdus(REMOTE, [sneaky.pdu]), { [sneaky.eventId]: {} });
    const write = store.received.find((w) => w.event.eventId === sneaky.eventId)!;
    assert.equal(write.softFailed, true);
    assert.equal(write.rejectedReason, undefined);
    assert.deepEqual(store.extremities, [ban.eventId]);
  });
});
