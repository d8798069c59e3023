/**
 * A real application-service library against Weft: matrix-appservice's
 * AppService, the transaction listener matrix-appservice-bridge (and so
 * matrix-appservice-irc, -slack and -discord) is built on, listening on a free
 * loopback port; it checks the hs_token and deduplicates txnIds as bridges do.
 * matrix-appservice-bridge's Bridge class is not used: it loads the native
 * @matrix-org/matrix-sdk-crypto-nodejs, whose binary a postinstall script
 * fetches from GitHub, which npm's allowScripts and a registry-only network
 * keep out. So the puppet registers (m.login.application_service), joins and
 * replies over HTTP with the as_token, as the Bridge's Intent does; the user
 * sees the reply in /sync.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { AppService } from 'matrix-appservice';
import { withServer } from '../support/fixture.js';
import { CLIENT_V3 } from '../support/client.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Event = Record<string, unknown> & { event_id?: string; content?: Record<string, unknown> };

describe('an application service built on matrix-appservice', { timeout: 120_000 }, () => {
  it('receives a message; its puppet registers, joins and replies', async () => {
    const port = await freePort();
    const document = testRegistration('mab', { url: `http://127.0.0.1:${port}` });
    const files = writeRegistrations([document]);
    await withServer(
      async (fixture) => {
        const received: Event[] = [];
        const service = new AppService({ homeserverToken: 'mab-hs-token' });
        service.on('event', (event) => received.push(event as Event));
        await service.listen(port, '127.0.0.1', 10);
        try {
          const asToken = { token: 'mab-as-token' };
          const puppet = '@mab_puppet:localhost';
          const registered = await fixture.api.post(
            `${CLIENT_V3}/register`,
            { type: 'm.login.application_service', username: 'mab_puppet' },
            asToken,
          );
          assert.equal(registered.status, 200, JSON.stringify(registered.body));
          const alice = await fixture.register('alice');
          const roomId = await fixture.createRoom(alice, { preset: 'public_chat' });
          const as = (path: string) =>
            `${path}${path.includes('?') ? '&' : '?'}user_id=${encodeURIComponent(puppet)}`;
          const joined = await fixture.api.post(
            as(`${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/join`),
            {},
            asToken,
          );
          assert.equal(joined.status, 200, JSON.stringify(joined.body));

          const eventId = await fixture.send(alice, roomId, 'hello, bridge');
          await waitUntil(() => received.some((event) => event.event_id === eventId));
          const message = received.find((event) => event.event_id === eventId)!;
          assert.equal(message.sender, alice.user_id);
          assert.equal(message.room_id, roomId);
          assert.deepEqual(message.content, { msgtype: 'm.text', body: 'hello, bridge' });

          const reply = await fixture.api.put<{ event_id: string }>(
            as(`${CLIENT_V3}/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r1`),
            { msgtype: 'm.text', body: 'hello from the bridge' },
            asToken,
          );
          assert.equal(reply.status, 200, JSON.stringify(reply.body));
          const sync = await fixture.sync(alice);
          const timeline = sync.rooms?.join?.[roomId]?.timeline?.events ?? [];
          const seen = timeline.find((event) => event.event_id === reply.body.event_id);
          assert.ok(seen, 'alice sees the reply');
          assert.equal(seen.sender, puppet);
          assert.equal((seen.content as { body: string }).body, 'hello from the bridge');
          // The service hears of its own puppet's reply too (a namespaced sender).
          await waitUntil(() => received.some((event) => event.event_id === reply.body.event_id));
        } finally {
          await service.close();
        }
      },
      { config: { app_service_config_files: files } },
    );
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('Timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
