/**
 * Push actions as notification rows store them: JSON text, interned once per
 * distinct list. Action lists are shared by every notification of a rule, so
 * each list is encoded once, however many members it notifies.
 */
const encodedActions = new WeakMap<unknown[], string>();

/** An action list as JSON, encoded once per list. */
export function actionsJson(actions: unknown[]): string {
  let json = encodedActions.get(actions);
  if (json === undefined) {
    json = JSON.stringify(actions);
    encodedActions.set(actions, json);
  }
  return json;
}

/** Decodes an action list, remembering its JSON so that it is not encoded again. */
export function decodeActions(json: string): unknown[] {
  const actions = JSON.parse(json) as unknown[];
  encodedActions.set(actions, json);
  return actions;
}
