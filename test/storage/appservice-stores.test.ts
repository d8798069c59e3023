/**
 * The application service stores' contract, on every backend: rooms published
 * under a service's networks (scanned in the directory's order, alone or with
 * the server's list) and devices made without a token.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkListScope, PublishedRoomsScan, Storage } from '../../src/storage/storage.js';
import { storageBackends, withStorage } from '../support/storage-backends.js';

const IRC = { serviceId: 'bridge', networkId: 'irc' };
const SLACK = { serviceId: 'bridge', networkId: 'slack' };
const ircScope: NetworkListScope = { network: IRC };

const roomIdsOf = (scan: PublishedRoomsScan | undefined) => scan?.rooms.map((room) => room.roomId);

/** Every room of the scope, page by page from the start (forward). */
async function scanAll(storage: Storage, scope: NetworkListScope, limit = 2): Promise<string[]> {
  const ids: string[] = [];
  let since: string | undefined;
  for (;;) {
    const scan = await storage.appServiceRoomList.scan(scope, { since, limit });
    assert.ok(scan);
    ids.push(...scan.rooms.map((room) => room.roomId));
    const last = scan.rooms.at(-1);
    if (!last || scan.rooms.length < limit) return ids;
    since = last.laterToken;
  }
}

for (const backend of storageBackends()) {
  describe(`application service stores on ${backend.name}`, () => {
    it('publishes rooms per network, once each, in the directory order', () =>
      withStorage(backend, async (storage, reopen) => {
        const list = storage.appServiceRoomList;
        await list.publish(IRC, '!b:localhost', 20);
        await list.publish(IRC, '!a:localhost', 20);
        await list.publish(IRC, '!c:localhost', 10);
        await list.publish(IRC, '!c:localhost', 30); // again: keeps its place
        await list.publish(SLACK, '!s:localhost', 5);
        assert.deepEqual(await scanAll(storage, ircScope), [
          '!c:localhost',
          '!a:localhost',
          '!b:localhost',
        ]);
        assert.equal(await list.count(ircScope), 3);
        assert.deepEqual(await scanAll(storage, { network: SLACK }), ['!s:localhost']);
        assert.deepEqual(
          await scanAll(storage, { network: { serviceId: 'other', networkId: 'irc' } }),
          [],
        );

        const reopened = await reopen();
        await reopened.appServiceRoomList.unpublish(IRC, '!a:localhost');
        assert.deepEqual(await scanAll(reopened, ircScope), ['!c:localhost', '!b:localhost']);
      }));

    it('scans every list together, a room in several once at its first publication', () =>
      withStorage(backend, async (storage) => {
        await storage.directory.setPublished('!main:localhost', true, 15);
        await storage.directory.setPublished('!both:localhost', true, 40);
        await storage.appServiceRoomList.publish(IRC, '!both:localhost', 1);
        await storage.appServiceRoomList.publish(SLACK, '!s:localhost', 25);
        const expected = ['!both:localhost', '!main:localhost', '!s:localhost'];
        assert.deepEqual(await scanAll(storage, 'all'), expected);
        assert.equal(await storage.appServiceRoomList.count('all'), 3);

        // Backward from the last room's earlier token: the others, nearest first.
        const last = (await storage.appServiceRoomList.scan('all', { limit: 3 }))!.rooms[2]!;
        const back = await storage.appServiceRoomList.scan('all', {
          since: last.earlierToken,
          limit: 5,
        });
        assert.equal(back?.direction, 'backward');
        assert.deepEqual(roomIdsOf(back), ['!main:localhost', '!both:localhost']);
        assert.equal(
          await storage.appServiceRoomList.scan('all', { since: 'junk', limit: 1 }),
          undefined,
        );
      }));

    it('creates a device without a token, once', () =>
      withStorage(backend, async (storage) => {
        const userId = '@bridge_a:localhost';
        await storage.users.createUser({
          userId,
          passwordHash: null,
          isGuest: false,
          isAdmin: false,
          now: 1,
        });
        const devices = storage.appServiceDevices;
        assert.equal(await devices.createDevice(userId, 'DEV', 'Bridge', 5), true);
        assert.equal(await devices.createDevice(userId, 'DEV', 'Other', 6), false);
        const device = await storage.devices.getDevice(userId, 'DEV');
        assert.equal(device?.displayName, 'Bridge', 'an existing device is left as it was');
        assert.equal(device?.lastSeenTs, null);
        assert.deepEqual(
          (await storage.devices.listDevices(userId)).map((d) => d.deviceId),
          ['DEV'],
        );
      }));
  });
}
