/** Devices application services create for their users (MSC4190), in SQLite. */
import type { AppServiceDeviceStore } from '../storage.js';
import { createDeviceSql } from '../common/appservice-device-sql.js';
import type { SqliteDatabase } from './database.js';

export class SqliteAppServiceDeviceStore implements AppServiceDeviceStore {
  private readonly insert;

  constructor(db: SqliteDatabase) {
    this.insert = db.prepare(createDeviceSql(() => '?'));
  }

  async createDevice(
    userId: string,
    deviceId: string,
    displayName: string | null,
    now: number,
  ): Promise<boolean> {
    return this.insert.run(userId, deviceId, displayName, now).changes > 0;
  }
}
