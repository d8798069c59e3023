/**
 * Sending to another server, end to end: a real Weft sends its transactions
 * over HTTP (federation.hosts → plain http) to a destination server run by the
 * test. A remote member (@bob:dest.test) is written into the room's state
 * through storage while Weft is stopped (federation joins do not exist yet).
 *
 * PDUs arrive in order, without unsigned, each once; a to-device message to the
 * remote user arrives as m.direct_to_device; typing goes out as m.typing; the
 * destination answering 503, then its port closed, then Weft restarted while it
 * is down: everything arrives once it is back, in order, nothing lost. A
 * destination down with a long backlog catches up: each room's newest PDUs.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { openStorage } from '../../src/storage/open-storage.js';
import type { Pdu } from '../../src/events/pdu.js';
import { CLIENT_V3, withServer, type Fixture, type Session } from '../support/fixture.js';

const DEST = 'dest.test';
const BOB = `@bob:${DEST}`;

interface Received {
  txnId: string;
  body: {
    origin: string;
    pdus: Record<string, unknown>[];
    edus?: { edu_type: string; content: Record<string, unknown> }[];
  };
}

/** The destination server: records each /send, answers 200 unless told to fail or closed. */
class Destination {
  readonly transactions: Received[] = [];
  status = 200;
  /** Transactions answered with an error status. */
  refused = 0;
  private server?: Server;
  port = 0;

  async open(): Promise<void> {
    this.server = createServer((request, response) => {
      let data = '';
      request.on('data', (chunk: Buffer) => (data += chunk.toString('utf8')));
      request.on('end', () => {
        const match = /^\/_matrix\/federation\/v1\/send\/([^/]+)$/.exec(request.url ?? '');
        if (request.method === 'PUT' && match && this.status === 200) {
          this.transactions.push({ txnId: decodeURIComponent(match[1]!), body: JSON.parse(data) });
        } else if (match) {
          this.refused++;
        }
        response.writeHead(this.status, { 'content-type': 'application/json' });
        response.end(
          this.status === 200 ? JSON.stringify({ pdus: {} }) : '{"errcode":"M_UNKNOWN"}',
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every PDU received, in arrival order. */
  pdus(): Record<string, unknown>[] {
    return this.transactions.flatMap((txn) => txn.body.pdus);
  }

  edus(type: string): Record<string, unknown>[] {
    return this.transactions.flatMap((txn) =>
      (txn.body.edus ?? []).filter((edu) => edu.edu_type === type).map((edu) => edu.content),
    );
  }

  bodies(): string[] {
    return this.pdus().map((pdu) => String((pdu.content as { body?: string }).body));
  }
}

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Writes @bob:dest.test's join into the room while Weft is stopped, then starts it again. */
async function addRemoteMember(fixture: Fixture, roomId: string): Promise<void> {
  await fixture.server.stop();
  const storage = await openStorage(fixture.server.config, 'tool');
  try {
    const heads = await storage.extremities.list(roomId);
    const depth = Math.max(...heads.map((head) => head.depth)) + 1;
    const pdu: Pdu = {
      type: 'm.room.member',
      room_id: roomId,
      sender: BOB,
      state_key: BOB,
      origin_server_ts: Date.now(),
      content: { membership: 'join' },
      prev_events: heads.map((head) => head.eventId),
      auth_events: [],
      depth,
      hashes: { sha256: 'x' },
      signatures: {},
    };
    await storage.rooms.persistEvent({ eventId: '$bob-join', roomId, pdu });
  } finally {
    await storage.close();
  }
  await fixture.server.start();
}

/**
 * A destination run by the test and a Weft sending to it (`federation` settings
 * on top of the route there), with alice's public room that @bob:dest.test joined.
 */
async function sendingTo(
  federation: Record<string, unknown>,
  run: (scene: {
    fixture: Fixture;
    destination: Destination;
    alice: Session;
    roomId: string;
  }) => Promise<void>,
): Promise<void> {
  const destination = new Destination();
  await destination.open();
  try {
    await withServer(
      async (fixture) => {
        const alice = await fixture.register('alice');
        const roomId = await fixture.createRoom(alice, { preset: 'public_chat' });
        await addRemoteMember(fixture, roomId);
        await run({ fixture, destination, alice, roomId });
      },
      {
        config: {
          federation: { hosts: { [DEST]: `http://127.0.0.1:${destination.port}` }, ...federation },
        },
      },
    );
  } finally {
    await destination.close();
  }
}

describe('federation sending', () => {
  it('sends PDUs and EDUs in order, retries a dead destination, survives a restart', () =>
    sendingTo(
      { sending_retry_initial_ms: 100, sending_retry_max_ms: 400 },
      async ({ fixture, destination, alice, roomId }) => {
        // The session survives the restart (tokens are stored).
        for (const body of ['one', 'two', 'three']) await fixture.send(alice, roomId, body);
        await until('three PDUs', () => destination.pdus().length >= 3);
        assert.deepEqual(destination.bodies(), ['one', 'two', 'three']);
        const first = destination.transactions[0]!;
        assert.equal(first.body.origin, 'localhost');
        for (const pdu of destination.pdus()) {
          assert.equal('unsigned' in pdu, false);
          assert.equal('event_id' in pdu, false);
          assert.equal(pdu.room_id, roomId);
        }

        // To-device to the remote user: stored, then sent as m.direct_to_device.
        const toDevice = await fixture.api.put(
          `${CLIENT_V3}/sendToDevice/m.test/t1`,
          { messages: { [BOB]: { BOBDEVICE: { secret: 1 } } } },
          { token: alice.access_token },
        );
        assert.equal(toDevice.status, 200);
        await until('the to-device EDU', () => destination.edus('m.direct_to_device').length > 0);
        const [direct] = destination.edus('m.direct_to_device');
        assert.equal(direct!.sender, alice.user_id);
        assert.equal(direct!.type, 'm.test');
        assert.deepEqual(direct!.messages, { [BOB]: { BOBDEVICE: { secret: 1 } } });
        assert.equal(typeof direct!.message_id, 'string');

        // Typing: in memory, to the room's servers.
        const typing = await fixture.api.put(
          `${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(alice.user_id)}`,
          { typing: true, timeout: 10_000 },
          { token: alice.access_token },
        );
        assert.equal(typing.status, 200);
        await until('the typing EDU', () => destination.edus('m.typing').length > 0);
        assert.deepEqual(destination.edus('m.typing')[0], {
          room_id: roomId,
          user_id: alice.user_id,
          typing: true,
        });

        // Down with 503: retried with backoff; nothing is lost.
        destination.status = 503;
        await fixture.send(alice, roomId, 'four');
        await until('a refused attempt', () => destination.refused > 0);
        assert.equal(destination.bodies().includes('four'), false);
        destination.status = 200;
        await until('four', () => destination.bodies().includes('four'));

        // Port closed, then Weft restarted while the destination is down.
        await destination.close();
        await fixture.send(alice, roomId, 'five');
        await fixture.send(alice, roomId, 'six');
        await new Promise((resolve) => setTimeout(resolve, 300));
        await fixture.server.restart();
        await fixture.send(alice, roomId, 'seven');
        await destination.open();
        await until('seven', () => destination.bodies().includes('seven'));
        assert.deepEqual(destination.bodies(), [
          'one',
          'two',
          'three',
          'four',
          'five',
          'six',
          'seven',
        ]);
        const ids = destination.transactions.map((txn) => txn.txnId);
        assert.equal(new Set(ids).size, ids.length, 'each acknowledged transaction has its own ID');
      },
    ));

  it('catches a destination up after a long outage: only each room’s newest PDUs', () =>
    sendingTo(
      {
        // The first retry comes after every message is queued (30 sends take ~0.2 s here).
        sending_retry_initial_ms: 2_500,
        sending_retry_max_ms: 2_500,
        sending_catch_up_after_pdus: 20,
      },
      async ({ fixture, destination, alice, roomId }) => {
        destination.status = 503;
        const bodies = Array.from({ length: 30 }, (_, i) => `m${i}`);
        for (const body of bodies) await fixture.send(alice, roomId, body);
        // The retry after the whole backlog was queued: the catch-up came before it.
        await until('the retry', () => destination.refused >= 2);
        destination.status = 200;
        await until('the newest message', () => destination.bodies().includes('m29'));
        assert.deepEqual(destination.bodies(), bodies.slice(-10));
        // The peer fetches the rest itself: the newest PDU names the one before it.
        const [oldestSent] = destination.pdus();
        assert.equal((oldestSent!.prev_events as string[]).length, 1);
      },
    ));
});
