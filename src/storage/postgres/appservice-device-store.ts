/** Devices application services create for their users (MSC4190), in PostgreSQL. */
import type { AppServiceDeviceStore } from '../storage.js';
import { createDeviceSql } from '../common/appservice-device-sql.js';
import type { PgExecutor } from './database.js';

const INSERT = createDeviceSql((n) => `$${n}`);

export class PgAppServiceDeviceStore implements AppServiceDeviceStore {
  constructor(private readonly db: PgExecutor) {}

  async createDevice(
    userId: string,
    deviceId: string,
    displayName: string | null,
    now: number,
  ): Promise<boolean> {
    return (await this.db.run(INSERT, [userId, deviceId, displayName, now])) > 0;
  }
}
