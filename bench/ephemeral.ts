/**
 * The ephemeral fan-out workload (issue 7): N users long-poll /sync in one
 * room; one of them starts typing, then sends a read receipt. Measured: from
 * the request until every other member's sync has it (the typing user in
 * `m.typing`, the receipt on the right event in `m.receipt`), p50/p99 over the
 * rounds. Setup and the unmeasured steps between rounds (typing stops, the
 * message to receipt is sent) are drained before each measurement.
 */
import { clientRequest } from './http-client.js';
import { registerMany, summarise, type BenchAccount, type Measurement } from './workloads.js';

export interface EphemeralFanOutOptions {
  users: number;
  rounds: number;
  /** Distinguishes the accounts of repeated runs against one server. */
  prefix?: string;
}

export interface EphemeralFanOut {
  typing: Measurement;
  receipts: Measurement;
}

type Account = BenchAccount;

interface EphemeralEvent {
  type: string;
  content: Record<string, unknown>;
}

interface SyncBody {
  next_batch: string;
  rooms?: {
    join?: Record<
      string,
      { ephemeral?: { events?: EphemeralEvent[] }; timeline?: { events?: { event_id?: string }[] } }
    >;
  };
}

type SyncCheck = (sync: SyncBody) => boolean;

/** Typing and receipt fan-out to `users - 1` long-polling members. */
export async function ephemeralFanOut(
  baseUrl: string,
  options: EphemeralFanOutOptions,
): Promise<EphemeralFanOut> {
  const accounts = await registerMany(baseUrl, `${options.prefix ?? ''}eph`, options.users);
  const [actor, ...members] = accounts as [Account, ...Account[]];
  const roomId = await createRoom(baseUrl, actor);
  for (const member of members) await call(baseUrl, member, 'POST', `/join/${roomId}`, {});
  const sinces = await Promise.all(members.map(async (m) => (await sync(baseUrl, m)).next_batch));
  const fanOut = (check: SyncCheck, act: () => Promise<unknown>) =>
    timedFanOut(baseUrl, members, sinces, check, act);
  const typingMs: number[] = [];
  const receiptMs: number[] = [];
  const start = performance.now();
  for (let round = 0; round < options.rounds; round++) {
    const typingPath = `/rooms/${roomId}/typing/${encodeURIComponent(actor.userId)}`;
    typingMs.push(
      await fanOut(
        (s) => typists(s, roomId)?.includes(actor.userId) === true,
        () => call(baseUrl, actor, 'PUT', typingPath, { typing: true, timeout: 30_000 }),
      ),
    );
    await fanOut(
      (s) => typists(s, roomId)?.length === 0,
      () => call(baseUrl, actor, 'PUT', typingPath, { typing: false }),
    );
    const eventId = await sendAndDrain(baseUrl, actor, roomId, round, fanOut);
    const receiptPath = `/rooms/${roomId}/receipt/m.read/${encodeURIComponent(eventId)}`;
    receiptMs.push(
      await fanOut(
        (s) => receiptedEvents(s, roomId).includes(eventId),
        () => call(baseUrl, actor, 'POST', receiptPath, {}),
      ),
    );
  }
  const seconds = (performance.now() - start) / 1000;
  return { typing: summarise(typingMs, seconds), receipts: summarise(receiptMs, seconds) };
}

/** Sends a message and waits until every member has it (unmeasured); its event ID. */
async function sendAndDrain(
  baseUrl: string,
  actor: Account,
  roomId: string,
  round: number,
  fanOut: (check: SyncCheck, act: () => Promise<unknown>) => Promise<number>,
): Promise<string> {
  let eventId = '';
  await fanOut(
    (s) => (s.rooms?.join?.[roomId]?.timeline?.events ?? []).some((e) => e.event_id === eventId),
    async () => {
      const path = `/rooms/${roomId}/send/m.room.message/eph${round}`;
      const sent = await call(baseUrl, actor, 'PUT', path, {
        msgtype: 'm.text',
        body: `r${round}`,
      });
      eventId = (sent as { event_id: string }).event_id;
    },
  );
  return eventId;
}

/** Every member long-polls until `check`; `act` runs once all wait. Returns act → last arrival, ms. */
async function timedFanOut(
  baseUrl: string,
  members: Account[],
  sinces: string[],
  check: SyncCheck,
  act: () => Promise<unknown>,
): Promise<number> {
  let acted = false;
  const polls = members.map(async (member, i) => {
    for (;;) {
      const body = await sync(baseUrl, member, sinces[i], 30_000);
      sinces[i] = body.next_batch;
      // A sync answered before the act (say, a presence change) is not the one awaited.
      if (acted && check(body)) return performance.now();
    }
  });
  // Every poller is waiting before the act is timed.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const began = performance.now();
  acted = true;
  await act();
  return Math.max(...(await Promise.all(polls))) - began;
}

function typists(sync: SyncBody, roomId: string): string[] | undefined {
  const events = sync.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
  const typing = events.filter((e) => e.type === 'm.typing').at(-1);
  return typing?.content.user_ids as string[] | undefined;
}

function receiptedEvents(sync: SyncBody, roomId: string): string[] {
  const events = sync.rooms?.join?.[roomId]?.ephemeral?.events ?? [];
  return events.filter((e) => e.type === 'm.receipt').flatMap((e) => Object.keys(e.content));
}

async function createRoom(baseUrl: string, account: Account): Promise<string> {
  const created = await call(baseUrl, account, 'POST', '/createRoom', { preset: 'public_chat' });
  return (created as { room_id: string }).room_id;
}

function sync(baseUrl: string, account: Account, since?: string, timeoutMs = 0) {
  const query = `timeout=${timeoutMs}${since ? `&since=${since}` : ''}`;
  return call(baseUrl, account, 'GET', `/sync?${query}`) as Promise<SyncBody>;
}

function call(baseUrl: string, account: Account, method: string, path: string, body?: object) {
  return clientRequest<unknown>(baseUrl, method, account.token, path, body);
}
