/**
 * Federation sending's wiring (for app.ts): the sender of events and EDUs to
 * other servers, fed by `eventsCommitted` and the notifier, and the receiver
 * of other servers' EDUs (handed to the transaction receiver of `/send`).
 */
import type { Logger } from 'pino';
import type { Storage } from '../storage/storage.js';
import type { Notifier } from '../sync/notifier.js';
import { EduReceiver, type DeviceListChanges, type RemoteTyping } from './edu-receiver.js';
import { FederationSending, type EphemeralSources } from './federation-sending.js';
import type { FederationSender } from './outbound.js';

export interface FederationSendingSettings {
  serverName: string;
  presenceEnabled: boolean;
  retryInitialMs: number;
  retryMaxMs: number;
  catchUpAfterPdus: number;
}

export interface FederationSendingParts {
  sending: FederationSending;
  edus: EduReceiver;
  close(): Promise<void>;
}

export function buildFederationSending(
  settings: FederationSendingSettings,
  storage: Storage,
  sender: FederationSender,
  ephemeral: {
    notifier: Notifier;
    sources: EphemeralSources;
    typing: RemoteTyping;
    deviceLists: DeviceListChanges;
  },
  logger: Logger,
): FederationSendingParts {
  const sending = new FederationSending({
    serverName: settings.serverName,
    storage,
    sender,
    sources: ephemeral.sources,
    logger,
    backoff: { initialMs: settings.retryInitialMs, maxMs: settings.retryMaxMs },
    catchUpAfterPdus: settings.catchUpAfterPdus,
  });
  ephemeral.notifier.observe((change) => sending.observe(change));
  const edus = new EduReceiver({
    serverName: settings.serverName,
    storage,
    notifier: ephemeral.notifier,
    typing: ephemeral.typing,
    deviceLists: ephemeral.deviceLists,
    presenceEnabled: settings.presenceEnabled,
    heardFrom: (origin) => sending.heardFrom(origin),
    logger,
  });
  const started = sending
    .start()
    .catch((err: unknown) => logger.error({ err }, 'federation: starting the sender failed'));
  return {
    sending,
    edus,
    close: async () => {
      await started;
      await sending.close();
    },
  };
}
