/**
 * Durability of room events under group commit: every send the server answered
 * before it was killed with SIGKILL is there after a restart, and the room goes
 * on from the stored events (a new send builds on them).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLIENT_V3 } from '../support/client.js';
import { restartableServer } from '../support/process.js';

const SENDERS = 6;

describe('room events across SIGKILL', { timeout: 120_000 }, () => {
  const { start, api } = restartableServer();

  it('keeps every acknowledged event', async () => {
    const first = await start();
    const owner = await api.register('roomkeeper');
    const room = await api.post(
      `${CLIENT_V3}/createRoom`,
      { preset: 'public_chat' },
      { token: owner.access_token },
    );
    const roomId = String(room.body.room_id);

    const acknowledged: string[] = [];
    let inFlight = 0;
    let stop = false;
    const sender = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        inFlight++;
        try {
          const res = await api.put(
            `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/w${worker}-${i}`,
            { msgtype: 'm.text', body: `${worker}/${i}` },
            { token: owner.access_token },
          );
          if (res.status === 200) acknowledged.push(String(res.body.event_id));
        } catch {
          return; // the connection died with the server
        } finally {
          inFlight--;
        }
      }
    };
    const workers = Array.from({ length: SENDERS }, (_, w) => sender(w));
    while (acknowledged.length < 60) await new Promise((r) => setTimeout(r, 5));
    const inFlightAtKill = inFlight;
    await first.kill();
    stop = true;
    await Promise.all(workers);
    assert.ok(inFlightAtKill > 0, 'sends were in flight when the server died');

    await start();
    for (const eventId of acknowledged) {
      const res = await api.get(`${CLIENT_V3}/rooms/${roomId}/event/${eventId}`, {
        token: owner.access_token,
      });
      assert.equal(res.status, 200, `acknowledged ${eventId} lost`);
    }
    const after = await api.put(
      `${CLIENT_V3}/rooms/${roomId}/send/m.room.message/after`,
      { body: 'after' },
      { token: owner.access_token },
    );
    assert.equal(after.status, 200);
  });
});
