/**
 * Devices application services manage for their users (MSC4190, in the spec
 * since v1.17): PUT /devices/{deviceId} creates the device (201) or updates it
 * (200), and deleting devices needs no UIA. As current Synapse, any service
 * may (the spec makes no opt-in of it); `io.element.msc4190` only closes the
 * other ways to a device (m.login.application_service login, a login with
 * registration: appservice-registration.ts).
 */
import type { TokenOwner } from '../domain/records.js';
import type { DeviceService } from '../devices/device-service.js';
import type { AppServiceDeviceStore } from '../storage/storage.js';

export class AppServiceDevices {
  constructor(
    private readonly store: AppServiceDeviceStore,
    private readonly devices: DeviceService,
    /** Told when a device was made, so those sharing rooms with the user hear of the new device. */
    private readonly devicesChanged: (userId: string) => Promise<void> = async () => {},
  ) {}

  /** Whether the request is a service's (device writes without UIA, creation by PUT). */
  managesDevices(owner: TokenOwner): boolean {
    return owner.appService !== undefined;
  }

  /** Creates the device, or renames it when it exists; answers whether it was created. */
  async upsert(owner: TokenOwner, deviceId: string, displayName?: string): Promise<boolean> {
    const created = await this.store.createDevice(
      owner.userId,
      deviceId,
      displayName ?? null,
      Date.now(),
    );
    if (created) {
      await this.devicesChanged(owner.userId);
      return true;
    }
    if (displayName !== undefined) await this.devices.rename(owner.userId, deviceId, displayName);
    return false;
  }
}
