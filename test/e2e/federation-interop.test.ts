/**
 * Interoperability bugs the Synapse scenarios (interop/synapse-federation.test.ts)
 * found, kept here between two real Wefts (a.test, b.test; plain HTTP through
 * `federation.hosts`) so that `npm test` guards them without a Synapse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Session, type SyncBody } from '../support/fixture.js';
import {
  syncUntil,
  type FederatingSide,
  startFederatingPair,
  closeFederatingPair,
} from '../support/federation-pair.js';

const texts = (body: SyncBody, roomId: string) =>
  (body.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e) => e.content?.body);

describe('federation interoperability fixes', { timeout: 120_000 }, () => {
  let a: FederatingSide;
  let b: FederatingSide;
  let alice: Session;
  let bob: Session;

  before(async () => {
    [a, b] = await startFederatingPair();
    alice = await a.api.register('alice');
    bob = await b.api.register('bob');
  });

  after(async () => {
    await closeFederatingPair([a, b]);
  });

  it("invites createRoom's remote invitees through their server, who then talk back", async () => {
    // createRoom's `invite` used to put a plain invite event in the room's sequence:
    // the invitee's server never signed it, and Synapse drops such a PDU.
    const roomId = await a.helpers.createRoom(alice, {
      preset: 'private_chat',
      invite: [bob.user_id],
      is_direct: true,
    });
    const invited = await syncUntil(b, bob, (s) => s.rooms?.invite?.[roomId] !== undefined);
    const inviteState = (
      invited.rooms.invite[roomId] as {
        invite_state: { events: { type: string; state_key?: string; content: object }[] };
      }
    ).invite_state.events;
    const invite = inviteState.find(
      (e) => e.type === 'm.room.member' && e.state_key === bob.user_id,
    );
    assert.deepEqual(
      { ...invite?.content, displayname: undefined },
      { membership: 'invite', is_direct: true, displayname: undefined },
    );
    await b.helpers.join(bob, roomId);
    // The room's state reaches bob's client: b held the invite without it, and the
    // section's state used to be the (empty) state before the invite.
    const joined = await syncUntil(b, bob, (s) => s.rooms?.join?.[roomId] !== undefined, {
      since: invited.next_batch,
    });
    const section = joined.rooms.join[roomId]!;
    const synced = [...section.state.events, ...section.timeline.events];
    for (const type of ['m.room.create', 'm.room.power_levels', 'm.room.join_rules']) {
      assert.ok(
        synced.some((e) => e.type === type),
        `${type} in bob's sync: ${JSON.stringify(section)}`,
      );
    }
    assert.ok(
      synced.some(
        (e) =>
          e.type === 'm.room.member' &&
          e.state_key === alice.user_id &&
          e.content.membership === 'join',
      ),
      "alice's join in bob's sync",
    );
    // The invite made b hold the room before the join: its servers must not stay
    // those of then (none), or b never sends bob's messages to a.
    await b.helpers.send(bob, roomId, 'b after an invite');
    await syncUntil(a, alice, (s) => texts(s, roomId).includes('b after an invite'));
  });
});
