import { describe, expect, it } from 'vitest';
import {
  dialogKey,
  dialogSetKey,
  sameDialogId,
  uacDialogId,
  uasDialogId,
} from '../../../web/src/sip/dialog/index.ts';
import { answer, outOfDialogRequest } from '../../support/dialog-builders.ts';

describe('dialog ids (RFC 3261 §12)', () => {
  const invite = outOfDialogRequest({ fromTag: 'a-tag', callId: 'c1@example.com' });
  const ok = answer(invite, 200, { toTag: 'b-tag' });

  it('UAC: local = From tag, remote = To tag', () => {
    expect(uacDialogId(ok)).toEqual({ callId: 'c1@example.com', localTag: 'a-tag', remoteTag: 'b-tag' });
    // a request we send out of dialog has no To tag yet: no dialog
    expect(uacDialogId(invite)).toBeUndefined();
  });

  it('UAS: local = To tag (or the tag we are about to send), remote = From tag', () => {
    expect(uasDialogId(ok)).toEqual({ callId: 'c1@example.com', localTag: 'b-tag', remoteTag: 'a-tag' });
    expect(uasDialogId(invite, 'b-tag')).toEqual(uasDialogId(ok));
    expect(uasDialogId(invite)).toBeUndefined();
  });

  it('both sides name the same dialog with the tags swapped', () => {
    const a = uacDialogId(ok)!;
    const b = uasDialogId(ok)!;
    expect([a.localTag, a.remoteTag]).toEqual([b.remoteTag, b.localTag]);
    expect(sameDialogId(a, b)).toBe(false);
    expect(sameDialogId(a, { ...a })).toBe(true);
  });

  it('keys: exact and unambiguous', () => {
    expect(dialogKey({ callId: 'c1@example.com', localTag: 'a', remoteTag: 'b' })).toBe('c1@example.com|a|b');
    expect(dialogKey({ callId: 'c', localTag: 'A', remoteTag: 'b' })).not.toBe(
      dialogKey({ callId: 'c', localTag: 'a', remoteTag: 'b' }),
    );
    expect(dialogSetKey('c1@example.com', 'a')).toBe('c1@example.com|a');
  });
});
