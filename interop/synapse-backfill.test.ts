/**
 * Weft ↔ Synapse, scenario 5 (docs/interop.md): a Weft user joins a Synapse room
 * that already holds 500 messages and pages back through all of them with
 * /messages, which needs Weft to backfill them from Synapse (`/backfill`).
 * Not part of `npm test`; run with scripts/interop.sh or
 *   node --import tsx --test interop/synapse-backfill.test.ts
 * WEFT_INTEROP_HISTORY sets the number of messages (default 500).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertResponseMatchesSpec } from '../test/support/spec-schemas.js';
import { canRunSynapse } from './synapse-peer.js';
import {
  CLIENT_V3,
  Client,
  startPair,
  type ClientEvent,
  type WeftSynapsePair,
} from './weft-synapse.js';

const skip = canRunSynapse() ? false : 'the Synapse peer needs root';
const HISTORY = Number(process.env.WEFT_INTEROP_HISTORY ?? 500);

interface MessagesPage {
  chunk: ClientEvent[];
  start: string;
  end?: string;
}

describe('a Weft user pages back through a Synapse room', { skip, timeout: 30 * 60_000 }, () => {
  let pair: WeftSynapsePair;
  let alice: Client;
  let bob: Client;
  let roomId = '';

  before(async () => {
    pair = await startPair();
    alice = new Client(pair.synapseApi, await pair.registerOnSynapse('alice'), false);
    bob = new Client(pair.weftApi, await pair.registerOnWeft('bob'), true);
    roomId = await alice.createRoom({ preset: 'public_chat', name: 'History' });
    const started = Date.now();
    for (let i = 0; i < HISTORY; i++) {
      await alice.sendText(roomId, `history ${i}`);
    }
    console.log(
      `# ${HISTORY} messages sent on Synapse in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  after(async () => {
    await pair?.close();
  });

  test(`joins and reads all ${HISTORY} earlier messages through /messages`, () =>
    pair.run(async () => {
      await bob.join(roomId, pair.synapseName);
      const wanted = Array.from({ length: HISTORY }, (_, i) => `history ${i}`);
      const started = Date.now();
      const { texts, pages } = await pageBack(bob, roomId);
      console.log(
        `# paged back ${texts.length} messages in ${pages} pages, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      // Newest first from /messages?dir=b: in sending order once reversed.
      assert.deepEqual(texts.reverse(), wanted);
    }));
});

/**
 * /messages backwards from the newest event until the room's start (no `end`),
 * each page checked against the spec's schema; the messages' bodies, newest first.
 */
async function pageBack(
  client: Client,
  roomId: string,
): Promise<{ texts: string[]; pages: number }> {
  const texts: string[] = [];
  let from: string | undefined;
  let pages = 0;
  for (; pages < 1_000; pages++) {
    const query = new URLSearchParams({ dir: 'b', limit: '50' });
    if (from) query.set('from', from);
    const response = await client.api.get<MessagesPage>(
      `${client.room(roomId)}/messages?${query}`,
      { token: client.session.access_token },
    );
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assertResponseMatchesSpec('get', `${CLIENT_V3}/rooms/{roomId}/messages`, 200, response.body);
    for (const event of response.body.chunk) {
      if (event.type === 'm.room.message') texts.push(String(event.content.body));
    }
    if (response.body.end === undefined) return { texts, pages: pages + 1 };
    from = response.body.end;
  }
  assert.fail('/messages never reached the start of the room');
}
