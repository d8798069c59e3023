/**
 * The writer thread's body (see writer.ts): its own connection to the
 * database, and the room and notification stores' transactions run on it.
 *
 * Requests wait here with event writes first: clients wait for their events'
 * commit, while a push evaluation is derived data nobody waits on (and waiting
 * lets the next one cover more events). Each kind keeps its order. All event
 * writes waiting when the thread gets to them share one transaction: one disk
 * sync for all (group commit).
 *
 * After a failed event transaction every event write is refused until the
 * main thread says `resume`: the writes it sent before it learned of the
 * failure may stand on the failed events (see PersistQueue).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { openDatabase } from './database.js';
import { unpackEvaluation } from './evaluation-packing.js';
import { SqliteNotificationRows } from './notification-store.js';
import { openRelationParents } from './relation-store.js';
import { SqliteRoomStore } from './room-store.js';
import type { PersistedEvent, WriterReply, WriterRequest } from './writer.js';

if (!parentPort) throw new Error('writer-thread.ts runs as a worker thread');
const port: MessagePort = parentPort;

const db = openDatabase((workerData as { file: string }).file);
// The caches the room store keeps on this side go unused: the main thread's stores serve reads.
const rooms = new SqliteRoomStore(db, openRelationParents(db));
const notifications = new SqliteNotificationRows(db);

const eventWrites: WriterRequest[] = [];
const otherWrites: WriterRequest[] = [];
let draining = false;
let refusingEventWrites = false;

/** `resume` keeps its place among the event writes: those after it are accepted. */
const isEventWrite = (request: WriterRequest) =>
  request.op === 'persistEvents' || request.op === 'resume';

port.on('message', (request: WriterRequest) => {
  (isEventWrite(request) ? eventWrites : otherWrites).push(request);
  if (!draining) {
    draining = true;
    setImmediate(drainOne);
  }
});

/** One step per turn of the loop, so that requests sent meanwhile are seen first. */
function drainOne(): void {
  if (eventWrites.length > 0) {
    drainEventWrites(eventWrites.splice(0));
    setImmediate(drainOne);
    return;
  }
  const request = otherWrites.shift();
  if (!request) {
    draining = false;
    return;
  }
  reply(request, () => handle(request));
  if (request.op === 'close') port.close();
  else setImmediate(drainOne);
}

function handle(request: WriterRequest): unknown {
  switch (request.op) {
    case 'persistEvents':
    case 'resume':
      throw new Error('Event writes are handled in drainEventWrites');
    case 'recordEvaluated':
      return notifications.storeEvaluated(unpackEvaluation(request.packed));
    case 'pruneNotifications':
      return notifications.pruneReadStep(request.cutoffs, request.afterUser);
    case 'close':
      db.close();
      return undefined;
  }
}

/** Runs of consecutive event writes are stored together; a `resume` ends a run. */
function drainEventWrites(requests: WriterRequest[]): void {
  let run: WriterRequest[] = [];
  for (const request of requests) {
    if (request.op === 'persistEvents') {
      run.push(request);
      continue;
    }
    if (run.length > 0) persistTogether(run);
    run = [];
    refusingEventWrites = false;
    port.postMessage({ id: request.id, ok: true, value: undefined });
  }
  if (run.length > 0) persistTogether(run);
}

function persistTogether(requests: WriterRequest[]): void {
  if (refusingEventWrites) {
    for (const request of requests) refuse(request, 'An earlier event write failed');
    return;
  }
  const batches = requests.map((r) => (r.op === 'persistEvents' ? r.events : []));
  let persisted: PersistedEvent[];
  try {
    persisted = rooms.writeEvents(batches.flat());
  } catch (err) {
    refusingEventWrites = true;
    const message = (err as Error).message ?? String(err);
    for (const request of requests) refuse(request, message, true);
    return;
  }
  let offset = 0;
  requests.forEach((request, i) => {
    const count = batches[i]!.length;
    port.postMessage({ id: request.id, ok: true, value: persisted.slice(offset, offset + count) });
    offset += count;
  });
}

function reply(request: WriterRequest, result: () => unknown): void {
  let message: WriterReply;
  try {
    message = { id: request.id, ok: true, value: result() };
  } catch (err) {
    message = { id: request.id, ok: false, message: (err as Error).message ?? String(err) };
  }
  port.postMessage(message);
}

function refuse(request: WriterRequest, message: string, failedWrite = false): void {
  const reply: WriterReply = { id: request.id, ok: false, message };
  if (failedWrite) reply.failedWrite = true;
  port.postMessage(reply);
}
