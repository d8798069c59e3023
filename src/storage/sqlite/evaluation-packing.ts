/**
 * A push evaluation as it crosses to the writer thread. A message in a room
 * of n members makes n − 1 notification objects, and copying objects between
 * threads (structured clone) cost the main thread more than evaluating them.
 * Packed, the repeated strings (user, room and thread IDs, action lists) are
 * sent once and each notification is seven numbers in one typed array, which
 * is copied as a block. Only what a notification row stores crosses: not the
 * event ID, which the rows leave to the events (found by position).
 */
import type { ReadMove } from '../storage.js';
import { actionsJson, decodeActions } from '../common/actions-json.js';
import type { EvaluationRows, StoredNotification } from '../common/notification-cache.js';

export interface PackedEvaluation {
  /** Every distinct string of the notifications; action lists as JSON. */
  strings: string[];
  /** FIELDS numbers per notification, in the order of `Field`. */
  numbers: Float64Array;
  readMoves: ReadMove[];
  evaluatedUpTo: number;
}

const enum Field {
  User,
  Room,
  Thread,
  Actions,
  StreamOrdering,
  Highlight,
  Ts,
}
const FIELDS = 7;

export function packEvaluation(result: EvaluationRows): PackedEvaluation {
  const strings: string[] = [];
  const indexes = new Map<string, number>();
  const indexOf = (text: string) => {
    let index = indexes.get(text);
    if (index === undefined) {
      index = strings.push(text) - 1;
      indexes.set(text, index);
    }
    return index;
  };
  const numbers = new Float64Array(result.notifications.length * FIELDS);
  result.notifications.forEach((n, i) => {
    const at = i * FIELDS;
    numbers[at + Field.User] = indexOf(n.userId);
    numbers[at + Field.Room] = indexOf(n.roomId);
    numbers[at + Field.Thread] = indexOf(n.threadId);
    numbers[at + Field.Actions] = indexOf(actionsJson(n.actions));
    numbers[at + Field.StreamOrdering] = n.streamOrdering;
    numbers[at + Field.Highlight] = n.highlight ? 1 : 0;
    numbers[at + Field.Ts] = n.ts;
  });
  return { strings, numbers, readMoves: result.readMoves, evaluatedUpTo: result.evaluatedUpTo };
}

export function unpackEvaluation(packed: PackedEvaluation): EvaluationRows {
  const { strings, numbers } = packed;
  // One array per distinct action list, as before packing.
  const actions = new Map<number, unknown[]>();
  const actionsAt = (index: number) => {
    let list = actions.get(index);
    if (!list) {
      list = decodeActions(strings[index]!);
      actions.set(index, list);
    }
    return list;
  };
  const notifications: StoredNotification[] = [];
  for (let at = 0; at < numbers.length; at += FIELDS) {
    notifications.push({
      userId: strings[numbers[at + Field.User]!]!,
      roomId: strings[numbers[at + Field.Room]!]!,
      threadId: strings[numbers[at + Field.Thread]!]!,
      actions: actionsAt(numbers[at + Field.Actions]!),
      streamOrdering: numbers[at + Field.StreamOrdering]!,
      highlight: numbers[at + Field.Highlight] === 1,
      ts: numbers[at + Field.Ts]!,
    });
  }
  return { notifications, readMoves: packed.readMoves, evaluatedUpTo: packed.evaluatedUpTo };
}
