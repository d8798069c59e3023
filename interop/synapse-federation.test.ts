/**
 * Weft ↔ Synapse (issue 25's "Proof against Synapse", docs/interop.md): a Weft
 * (its federation TLS listener, the test CA as `federation.ca_file`) and a real
 * Synapse 1.160 from the chroot, on loopback. Not part of `npm test` (root, and
 * Debian's archive on first use). Run with
 *   scripts/interop.sh                      (all interop tests)
 *   node --import tsx --test interop/synapse-federation.test.ts
 * WEFT_INTEROP_OUTAGE_S sets how long Synapse is down in scenario 3 (default 60).
 *
 * The scenarios run in order on one pair of servers:
 *   1. a room made on Synapse, a Weft user invited and joining; messages, name
 *      and topic, a redaction, typing and read receipts both ways, in both /syncs;
 *   2. the same with the room made on Weft;
 *   3. Synapse stopped while Weft sends, restarted: everything sent meanwhile arrives;
 *   4. concurrent power level changes on both sides converge to the same state.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalJson } from '../src/events/canonical-json.js';
import { canRunSynapse } from './synapse-peer.js';
import { Client, CROSSING_TIMEOUT_MS, startPair, type WeftSynapsePair } from './weft-synapse.js';

const skip = canRunSynapse() ? false : 'the Synapse peer needs root';
const OUTAGE_MS = Number(process.env.WEFT_INTEROP_OUTAGE_S ?? 60) * 1000;

describe('Weft and Synapse federate', { skip, timeout: 30 * 60_000 }, () => {
  let pair: WeftSynapsePair;
  // alice and carol on Synapse, bob and dave on Weft.
  let alice: Client;
  let carol: Client;
  let bob: Client;
  let dave: Client;

  before(async () => {
    pair = await startPair();
    const onSynapse = async (name: string) =>
      new Client(pair.synapseApi, await pair.registerOnSynapse(name), false);
    const onWeft = async (name: string) =>
      new Client(pair.weftApi, await pair.registerOnWeft(name), true);
    [alice, carol, bob, dave] = await Promise.all([
      onSynapse('alice'),
      onSynapse('carol'),
      onWeft('bob'),
      onWeft('dave'),
    ]);
    // Every client's first /sync, so that later ones are incremental.
    await Promise.all([alice, carol, bob, dave].map((client) => client.syncOnce(0)));
  });

  after(async () => {
    await pair?.close();
  });

  // A failed scenario keeps the folder with both servers' logs.
  const scenario = (name: string, run: () => Promise<void>) => test(name, () => pair.run(run));

  /**
   * What scenarios 1 and 2 check once `guest` (the other server's user) has
   * joined `host`'s room, `guest` holding power 50 (state and redactions).
   */
  async function conversation(roomId: string, host: Client, guest: Client): Promise<void> {
    // Messages both ways.
    const fromHost = await host.sendText(roomId, `hello from ${host.userId}`);
    await guest.syncUntil('the host message', (seen) => Boolean(seen.event(roomId, fromHost)));
    const fromGuest = await guest.sendText(roomId, `hello from ${guest.userId}`);
    await host.syncUntil('the guest message', (seen) => Boolean(seen.event(roomId, fromGuest)));

    // A state change each: the host names the room, the guest sets the topic.
    await host.setState(roomId, 'm.room.name', { name: 'Across' });
    await guest.setState(roomId, 'm.room.topic', { topic: 'set on the other server' });
    for (const client of [host, guest]) {
      await client.syncUntil('the name and the topic', (seen) => {
        const name = seen.stateEvents(roomId, 'm.room.name').at(-1);
        const topic = seen.stateEvents(roomId, 'm.room.topic').at(-1);
        return (
          name?.content.name === 'Across' && topic?.content.topic === 'set on the other server'
        );
      });
      assert.deepEqual(await client.getState(roomId, 'm.room.name'), { name: 'Across' });
      assert.deepEqual(await client.getState(roomId, 'm.room.topic'), {
        topic: 'set on the other server',
      });
    }

    // A redaction each way: each redacts its own message; the other side sees
    // the redaction and then serves the message without its content.
    const hostRedaction = await host.redact(roomId, fromHost, 'host redacts');
    const guestRedaction = await guest.redact(roomId, fromGuest, 'guest redacts');
    for (const [client, redaction, target] of [
      [guest, hostRedaction, fromHost],
      [host, guestRedaction, fromGuest],
    ] as const) {
      await client.syncUntil('the redaction', (seen) => Boolean(seen.event(roomId, redaction)));
      const synced = client.seen.event(roomId, redaction)!;
      assert.equal(synced.type, 'm.room.redaction');
      // Room versions 11 and later carry `redacts` in the content; clients may read either.
      assert.equal(synced.content.redacts ?? synced.redacts, target);
      const served = await client.call(
        'GET',
        `${client.room(roomId)}/event/${encodeURIComponent(target)}`,
      );
      assert.deepEqual(served.content, {}, `${client.userId} still serves the redacted content`);
    }

    // Typing both ways.
    const typingOf = (client: Client, userId: string) =>
      client.syncUntil(`${userId} typing`, (seen) => {
        const last = seen.ephemeralOf(roomId, 'm.typing').at(-1);
        return ((last?.content.user_ids as string[] | undefined) ?? []).includes(userId);
      });
    await host.typing(roomId, true);
    await typingOf(guest, host.userId);
    await guest.typing(roomId, true);
    await typingOf(host, guest.userId);
    await host.typing(roomId, false);
    await guest.syncUntil(`${host.userId} stopping`, (seen) => {
      const last = seen.ephemeralOf(roomId, 'm.typing').at(-1);
      return !((last?.content.user_ids as string[] | undefined) ?? []).includes(host.userId);
    });

    // Read receipts both ways, on the other side's latest message.
    const readByHost = await guest.sendText(roomId, 'read me, host');
    const readByGuest = await host.sendText(roomId, 'read me, guest');
    await host.syncUntil('the message to read', (seen) => Boolean(seen.event(roomId, readByHost)));
    await guest.syncUntil('the message to read', (seen) =>
      Boolean(seen.event(roomId, readByGuest)),
    );
    await host.receipt(roomId, readByHost);
    await guest.receipt(roomId, readByGuest);
    const receiptOf = (client: Client, eventId: string, reader: string) =>
      client.syncUntil(`${reader}'s receipt`, (seen) =>
        seen.ephemeralOf(roomId, 'm.receipt').some((receipt) => {
          const forEvent = receipt.content[eventId] as
            Record<string, Record<string, { ts?: number }>> | undefined;
          return typeof forEvent?.['m.read']?.[reader]?.ts === 'number';
        }),
      );
    await receiptOf(guest, readByHost, host.userId);
    await receiptOf(host, readByGuest, guest.userId);
  }

  scenario('1. a Synapse room: a Weft user invited, joining, and talking both ways', async () => {
    const roomId = await alice.createRoom({
      preset: 'private_chat',
      invite: [bob.userId],
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 } },
    });
    await bob.syncUntil('the invite', (seen) => seen.invites.has(roomId));
    await bob.join(roomId);
    await alice.syncUntil("bob's join", (seen) =>
      seen
        .stateEvents(roomId, 'm.room.member')
        .some((event) => event.state_key === bob.userId && event.content.membership === 'join'),
    );
    await conversation(roomId, alice, bob);
  });

  scenario('2. a Weft room: a Synapse user invited, joining, and talking both ways', async () => {
    const roomId = await bob.createRoom({
      preset: 'private_chat',
      invite: [alice.userId],
      // Weft makes version 12 rooms, whose creator holds infinite power outside `users`.
      power_level_content_override: { users: { [alice.userId]: 50 } },
    });
    await alice.syncUntil('the invite', (seen) => seen.invites.has(roomId));
    await alice.join(roomId);
    await bob.syncUntil("alice's join", (seen) =>
      seen
        .stateEvents(roomId, 'm.room.member')
        .some((event) => event.state_key === alice.userId && event.content.membership === 'join'),
    );
    await conversation(roomId, bob, alice);
  });

  scenario('3. Synapse down while Weft sends: everything arrives after its restart', async () => {
    const roomId = await bob.createRoom({ preset: 'public_chat', invite: [alice.userId] });
    await alice.syncUntil('the invite', (seen) => seen.invites.has(roomId));
    await alice.join(roomId);
    const before = await bob.sendText(roomId, 'before the outage');
    await alice.syncUntil('the first message', (seen) => Boolean(seen.event(roomId, before)));

    await pair.stopSynapse();
    const started = Date.now();
    // Messages spread over the outage, so that Weft's queue fails, backs off and
    // queues more meanwhile; and a state change among them.
    const sent: string[] = [];
    const count = 10;
    for (let i = 0; i < count; i++) {
      sent.push(await bob.sendText(roomId, `during the outage ${i}`));
      if (i === count / 2) sent.push(await bob.setState(roomId, 'm.room.topic', { topic: 'down' }));
      await sleep(OUTAGE_MS / count);
    }
    console.log(`# synapse down for ${((Date.now() - started) / 1000).toFixed(1)} s`);
    await pair.startSynapse();
    const restarted = Date.now();

    await alice.syncUntil(`all ${sent.length} events sent during the outage`, (seen) =>
      sent.every((eventId) => seen.event(roomId, eventId)),
    );
    console.log(`# caught up ${((Date.now() - restarted) / 1000).toFixed(1)} s after the restart`);
    assert.deepEqual(
      alice.seen.texts(roomId).filter((text) => text.startsWith('during')),
      Array.from({ length: count }, (_, i) => `during the outage ${i}`),
      'in the order sent',
    );
    assert.deepEqual(await alice.getState(roomId, 'm.room.topic'), { topic: 'down' });
    // And the way back still works after the restart.
    const reply = await alice.sendText(roomId, 'back again');
    await bob.syncUntil('the reply', (seen) => Boolean(seen.event(roomId, reply)));
  });

  scenario('4. concurrent power level changes on both sides converge', async () => {
    // alice (Synapse) creates; bob (Weft) is raised to 100 too, so both can change
    // power levels; carol (Synapse) and dave (Weft) are the ones raised.
    const roomId = await alice.createRoom({
      preset: 'public_chat',
      invite: [bob.userId, carol.userId, dave.userId],
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 100 } },
    });
    for (const client of [bob, carol, dave]) {
      await client.syncUntil('the invite', (seen) => seen.invites.has(roomId));
      await client.join(roomId);
    }
    const everyoneIn = (client: Client) =>
      client.syncUntil('everyone joined', (seen) =>
        [alice, bob, carol, dave].every((member) =>
          seen
            .stateEvents(roomId, 'm.room.member')
            .some((e) => e.state_key === member.userId && e.content.membership === 'join'),
        ),
      );
    await Promise.all([everyoneIn(alice), everyoneIn(bob)]);

    const base = (await alice.getState(roomId, 'm.room.power_levels')) as {
      users: Record<string, number>;
    };
    const raise = (userId: string, level: number) => ({
      ...base,
      users: { ...base.users, [userId]: level },
    });
    // Round 1: each raises a different user, at the same moment.
    const [onSynapse, onWeft] = await Promise.all([
      alice.setState(roomId, 'm.room.power_levels', raise(carol.userId, 50)),
      bob.setState(roomId, 'm.room.power_levels', raise(dave.userId, 50)),
    ]);
    await assertForked(roomId, onSynapse, onWeft);
    await converged(roomId, [onSynapse, onWeft]);

    // Round 2: both change the same user's level to different values.
    const current = (await bob.getState(roomId, 'm.room.power_levels')) as typeof base;
    const [again1, again2] = await Promise.all([
      alice.setState(roomId, 'm.room.power_levels', {
        ...current,
        users: { ...current.users, [carol.userId]: 25 },
      }),
      bob.setState(roomId, 'm.room.power_levels', {
        ...current,
        users: { ...current.users, [carol.userId]: 75 },
      }),
    ]);
    await converged(roomId, [again1, again2]);

    // Messages after the merge reach both sides.
    const after1 = await alice.sendText(roomId, 'after the merge, from synapse');
    const after2 = await bob.sendText(roomId, 'after the merge, from weft');
    await bob.syncUntil('synapse message', (seen) => Boolean(seen.event(roomId, after1)));
    await alice.syncUntil('weft message', (seen) => Boolean(seen.event(roomId, after2)));
    await converged(roomId, []);
  });

  /** Both power level events were made on the same prev state: neither names the other. */
  async function assertForked(roomId: string, a: string, b: string): Promise<void> {
    const deadline = Date.now() + CROSSING_TIMEOUT_MS;
    let records = await pair.weft.storage.rooms.getEvents([a, b]);
    while (records.length < 2 && Date.now() < deadline) {
      await sleep(200);
      records = await pair.weft.storage.rooms.getEvents([a, b]);
    }
    assert.equal(records.length, 2, 'Weft holds both power level events');
    for (const record of records) {
      assert.equal(record.roomId, roomId);
      const other = record.eventId === a ? b : a;
      assert.ok(
        !record.pdu.prev_events.includes(other),
        'the changes were concurrent (neither built on the other)',
      );
    }
  }

  /**
   * Waits until both servers' /state are the same (event IDs included), with
   * `mustHold` events seen by both /syncs first; fails if they never agree.
   */
  async function converged(roomId: string, mustHold: string[]): Promise<void> {
    // Neither side soft-fails the other's change (both senders hold power 100 in
    // both forks): each event reaches both timelines.
    await Promise.all(
      [alice, bob].map((client) =>
        client.syncUntil('both power level events', (seen) =>
          mustHold.every((eventId) => seen.event(roomId, eventId)),
        ),
      ),
    );
    const deadline = Date.now() + CROSSING_TIMEOUT_MS;
    let onSynapse = await alice.stateSnapshot(roomId);
    let onWeft = await bob.stateSnapshot(roomId);
    while (Date.now() < deadline && !sameState(onSynapse, onWeft)) {
      await sleep(500);
      [onSynapse, onWeft] = await Promise.all([
        alice.stateSnapshot(roomId),
        bob.stateSnapshot(roomId),
      ]);
    }
    assert.deepEqual(summary(onWeft), summary(onSynapse), 'the same state on both servers');
    const levels = onWeft.find((event) => event.type === 'm.room.power_levels')!;
    console.log(`# converged on ${levels.event_id}: ${JSON.stringify(levels.content.users)}`);
  }
});

type StateEvent = { type: string; state_key?: string; event_id: string; content: unknown };

function summary(state: StateEvent[]): string[] {
  return state.map(
    (event) =>
      // Canonical JSON: the servers may order a content's keys differently.
      `${event.type}|${event.state_key ?? ''}|${event.event_id}|${canonicalJson(event.content)}`,
  );
}

function sameState(a: StateEvent[], b: StateEvent[]): boolean {
  return JSON.stringify(summary(a)) === JSON.stringify(summary(b));
}
