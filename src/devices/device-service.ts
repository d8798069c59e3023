/** A user's devices: listing, renaming, deleting (which revokes their tokens). */
import type { DeviceRecord, Storage } from '../storage/storage.js';
import type { SessionService } from '../auth/sessions.js';
import { errors } from '../protocol/errors.js';

export interface DeviceView {
  device_id: string;
  display_name?: string;
  last_seen_ip?: string;
  last_seen_ts?: number;
  /** Only when asked for (admins): the client API's device has no user agent. */
  last_seen_user_agent?: string;
}

export interface DeviceViewOptions {
  /** Adds `last_seen_user_agent` (whois and the Admin API; Synapse's clients do not get it). */
  userAgents?: boolean;
}

/** The devices' own store. */
export type DeviceServiceStorage = Pick<Storage, 'devices'>;

export class DeviceService {
  constructor(
    private readonly storage: DeviceServiceStorage,
    private readonly sessions: SessionService,
    /**
     * Told after devices were deleted (their keys with them) or renamed, so
     * others hear of it: the storage recorded the device list changes.
     */
    private readonly deviceListChanged: (userId: string) => Promise<void> = async () => {},
  ) {}

  async list(userId: string, options: DeviceViewOptions = {}): Promise<DeviceView[]> {
    return (await this.storage.devices.listDevices(userId)).map((d) => this.view(d, options));
  }

  async get(
    userId: string,
    deviceId: string,
    options: DeviceViewOptions = {},
  ): Promise<DeviceView> {
    const device = await this.storage.devices.getDevice(userId, deviceId);
    if (!device) throw errors.notFound('Unknown device');
    return this.view(device, options);
  }

  async rename(userId: string, deviceId: string, displayName: string | null): Promise<void> {
    if (!(await this.storage.devices.setDisplayName(userId, deviceId, displayName))) {
      throw errors.notFound('Unknown device');
    }
    await this.deviceListChanged(userId);
  }

  async delete(userId: string, deviceIds: string[]): Promise<void> {
    this.sessions.forget(await this.storage.devices.deleteDevices(userId, deviceIds));
    await this.deviceListChanged(userId);
  }

  async deleteAll(userId: string): Promise<void> {
    this.sessions.forget(await this.storage.devices.deleteOtherDevices(userId, null));
    await this.deviceListChanged(userId);
  }

  private view(device: DeviceRecord, options: DeviceViewOptions): DeviceView {
    const pending = this.sessions.pendingLastSeenFor(device.userId, device.deviceId);
    const view: DeviceView = { device_id: device.deviceId };
    if (device.displayName !== null) view.display_name = device.displayName;
    const ip = pending?.ip ?? device.lastSeenIp;
    const ts = pending?.ts ?? device.lastSeenTs;
    if (ip !== null) view.last_seen_ip = ip;
    if (ts !== null) view.last_seen_ts = ts;
    const agent = pending ? pending.userAgent : device.lastSeenUserAgent;
    if (options.userAgents && agent !== null) view.last_seen_user_agent = agent;
    return view;
  }
}
