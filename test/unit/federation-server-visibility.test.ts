/** Which events another server may see: history visibility judged for a server's users. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isUserOfServer, isVisibleToServer } from '../../src/federation/server-visibility.js';

const visibility = (history_visibility: string) => ({ history_visibility });
const member = (membership: string) => ({ membership });

describe('server visibility', () => {
  it('world_readable and shared history: any server in the room, members or not', () => {
    for (const setting of ['world_readable', 'shared']) {
      assert.ok(
        isVisibleToServer({ historyVisibilityContent: visibility(setting), serverMemberships: [] }),
      );
    }
  });

  it('no history_visibility event, or an unknown value, counts as shared', () => {
    assert.ok(isVisibleToServer({ historyVisibilityContent: undefined, serverMemberships: [] }));
    assert.ok(
      isVisibleToServer({ historyVisibilityContent: visibility('odd'), serverMemberships: [] }),
    );
  });

  it('invited: one of the server’s users invited or joined at the event', () => {
    const at = (memberships: unknown[]) =>
      isVisibleToServer({
        historyVisibilityContent: visibility('invited'),
        serverMemberships: memberships,
      });
    assert.ok(at([member('invite')]));
    assert.ok(at([member('leave'), member('join')]));
    assert.equal(at([member('leave'), member('ban'), member('knock')]), false);
    assert.equal(at([]), false);
  });

  it('joined: one of the server’s users joined at the event; an invite is not enough', () => {
    const at = (memberships: unknown[]) =>
      isVisibleToServer({
        historyVisibilityContent: visibility('joined'),
        serverMemberships: memberships,
      });
    assert.ok(at([member('join')]));
    assert.equal(at([member('invite')]), false);
    assert.equal(at([{ membership: 5 }]), false);
  });

  it('a user belongs to the server after the first colon', () => {
    assert.ok(isUserOfServer('@a:b.example:8448', 'b.example:8448'));
    assert.equal(isUserOfServer('@a:b.example', 'example'), false);
    assert.equal(isUserOfServer('nocolon', 'b.example'), false);
  });
});
