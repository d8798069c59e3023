/**
 * A small typed in-process event bus: how one area hears of what happened in
 * another (events committed, a user active, a profile changed) without either
 * holding the other or callbacks patched on after construction. Listeners run
 * synchronously, in the order they subscribed, when the event is emitted; one
 * that throws is reported and does not keep the others from running, nor fail
 * the emitter (what happened has happened).
 */
export class EventBus<Events extends object> {
  private readonly listeners = new Map<keyof Events, ((payload: never) => void)[]>();

  constructor(private readonly onListenerError: (err: unknown, name: keyof Events) => void) {}

  on<Name extends keyof Events>(name: Name, listener: (payload: Events[Name]) => void): void {
    const list = this.listeners.get(name);
    if (list) list.push(listener);
    else this.listeners.set(name, [listener]);
  }

  emit<Name extends keyof Events>(name: Name, payload: Events[Name]): void {
    const list = this.listeners.get(name) as ((payload: Events[Name]) => void)[] | undefined;
    if (!list) return;
    for (const listener of list) {
      try {
        listener(payload);
      } catch (err) {
        this.onListenerError(err, name);
      }
    }
  }
}
