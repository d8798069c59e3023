/** What the handlers of account data, ephemeral events, profiles, presence, directory and reports use. */
import type { AccountDataService } from '../../account-data/account-data-service.js';
import type { ReceiptService } from '../../ephemeral/receipt-service.js';
import type { TypingService } from '../../ephemeral/typing-service.js';
import type { PresenceService } from '../../presence/presence-service.js';
import type { ProfileService } from '../../profiles/profile-service.js';
import type { PushRuleService } from '../../push/push-rule-service.js';
import type { ReportService } from '../../reports/report-service.js';
import type { UserDirectoryService } from '../../user-directory/user-directory-service.js';

export interface UserDataDeps {
  accountData: AccountDataService;
  /** `m.push_rules` account data is read from the push rules. */
  pushRules: PushRuleService;
  typing: TypingService;
  receipts: ReceiptService;
  profiles: ProfileService;
  presence: PresenceService;
  userDirectory: UserDirectoryService;
  reports: ReportService;
}
