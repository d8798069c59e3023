/**
 * Crash safety of application service transactions, with a real `weft start`
 * killed by SIGKILL: an event committed while the service was down is
 * delivered after the restart, in the very transaction (txnId and bytes) that
 * was stored before the first attempt; an event committed while the server
 * was not yet sending (the service never reached) arrives too.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { Api } from '../support/client.js';
import { makeTempDir, startWeftProcess, type WeftProcess } from '../support/process.js';
import { testDatabase } from '../support/server.js';
import { FakeAppService } from '../support/fake-appservice.js';
import { testRegistration, writeRegistrations } from '../support/appservice-registrations.js';
import { UserHelpers } from '../support/user-helpers.js';

describe('application service transactions across SIGKILL', { timeout: 120_000 }, () => {
  const dir = makeTempDir('weft-as-restart-');
  const service = new FakeAppService();
  const servers: WeftProcess[] = [];
  let database: Awaited<ReturnType<typeof testDatabase>> | undefined;
  after(async () => {
    for (const server of servers) await server.kill();
    await service.stop();
    await database?.drop();
    dir.remove();
  });

  async function start(): Promise<WeftProcess> {
    database ??= await testDatabase();
    const env: Record<string, string> = {
      WEFT_CONFIG: path.join(dir.path, 'weft.yaml'),
      WEFT_DATA_DIR: path.join(dir.path, 'data'),
      WEFT_PORT: '0',
      WEFT_RATE_LIMITS: 'off',
    };
    const url = database.overrides.database?.url;
    if (url) env.WEFT_DATABASE_URL = url;
    const server = await startWeftProcess({ cwd: dir.path, env });
    servers.push(server);
    return server;
  }

  it('delivers what was committed before the kill, the stored transaction unchanged', async () => {
    await service.start();
    const [file] = writeRegistrations([
      testRegistration('bridge', {
        url: service.url,
        namespaces: { users: [], aliases: [{ regex: '#bridged_.*:localhost', exclusive: false }] },
      }),
    ]);
    writeFileSync(
      path.join(dir.path, 'weft.yaml'),
      stringify({ server_name: 'localhost', app_service_config_files: [file] }),
    );
    // The service is down (500) until the server has been killed.
    let down = true;
    service.answer = () => ({ status: down ? 500 : 200 });

    const first = await start();
    const api = new Api(first.url);
    const helpers = new UserHelpers(api);
    const alice = await api.register('alice');
    const room = await helpers.createRoom(alice, { room_alias_name: 'bridged_crash' });
    const message = await helpers.send(alice, room, 'before the crash');
    // One transaction in flight: the first (the room's creation) is refused, the rest wait.
    await service.waitFor(() => service.transactions.length > 0);
    const refused = service.transactions[0]!;
    await first.kill();
    assert.equal((await first.exited).signal, 'SIGKILL');
    assert.ok(!service.eventIds().includes(message) || refused.body.events.length > 0);

    const seenBefore = service.transactions.length;
    down = false;
    const second = await start();
    await service.waitFor(() => service.eventIds().includes(message));
    const afterRestart = service.transactions.slice(seenBefore);
    assert.equal(afterRestart[0]!.txnId, refused.txnId, 'the stored transaction first');
    assert.equal(afterRestart[0]!.raw, refused.raw, 'the same body, byte for byte');

    // Committed, then killed before any attempt could succeed: delivered by the next server.
    down = true;
    const api2 = new Api(second.url);
    const sent = await api2.put<{ event_id: string }>(
      `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/m.room.message/after-restart`,
      { msgtype: 'm.text', body: 'committed, then killed' },
      { token: alice.access_token },
    );
    assert.equal(sent.status, 200);
    const later = sent.body.event_id;
    assert.notEqual(later, message);
    await second.kill();
    down = false;
    await start();
    await service.waitFor(() => service.eventIds().includes(later), 20_000);
    const ids = service.eventIds();
    assert.ok(ids.indexOf(message) < ids.indexOf(later), 'in order');
    assert.equal(ids.filter((id) => id === later).length, 1, 'once per txnId');
  });
});
