import { describe, expect, it } from 'vitest';
import { defaultGatewayUrl, pageAttention, webPreferences } from '../../../web/src/drivers/index.ts';
import { MapStorage } from '../support/app-harness.ts';

class FakeNotification {
  static permission: 'granted' | 'denied' | 'default' = 'default';
  static shown: FakeNotification[] = [];
  static requestPermission(): Promise<'granted'> {
    FakeNotification.permission = 'granted';
    return Promise.resolve('granted');
  }
  onclick: (() => void) | null = null;
  closed = false;
  constructor(
    readonly title: string,
    readonly options: { body: string; tag: string },
  ) {
    FakeNotification.shown.push(this);
  }
  close(): void {
    this.closed = true;
  }
}

describe('pageAttention', () => {
  it('puts the unread count in front of the title and takes it away', () => {
    const doc = { title: 'SIMPLE chat' };
    const attention = pageAttention({ document: doc });
    attention.setUnread(3);
    expect(doc.title).toBe('(3) SIMPLE chat');
    attention.setUnread(120);
    expect(doc.title).toBe('(99+) SIMPLE chat');
    attention.setUnread(0);
    expect(doc.title).toBe('SIMPLE chat');
  });

  it('notifies only with permission; a click focuses the tab and opens the conversation', async () => {
    let focused = 0;
    let opened = 0;
    const attention = pageAttention({
      document: { title: 't' },
      Notification: FakeNotification,
      focus: () => focused++,
    });
    attention.notify({ title: 'Bob', body: 'hi', tag: 'bob' });
    expect(FakeNotification.shown).toHaveLength(0);
    expect(await attention.requestPermission()).toBe('granted');
    attention.notify({ title: 'Bob', body: 'hi', tag: 'bob', onClick: () => opened++ });
    const shown = FakeNotification.shown[0]!;
    expect([shown.title, shown.options]).toEqual(['Bob', { body: 'hi', tag: 'bob' }]);
    shown.onclick?.();
    expect([focused, opened, shown.closed]).toEqual([1, 1, true]);
  });

  it('without the Notification API it says so and does nothing', async () => {
    const attention = pageAttention({ document: { title: 't' } });
    expect(attention.permission()).toBe('unsupported');
    expect(await attention.requestPermission()).toBe('unsupported');
    expect(() => {
      attention.notify({ title: 'a', body: 'b', tag: 'c' });
    }).not.toThrow();
  });
});

describe('preferences', () => {
  it('theme and last sign-in in local storage; the password only in the session', () => {
    const local = new MapStorage();
    const session = new MapStorage();
    const prefs = webPreferences(local, session);
    expect(prefs.theme()).toBe('system');
    prefs.setTheme('dark');
    prefs.setLastSignIn({ address: 'sip:a@b', gatewayUrl: 'ws://h/' });
    prefs.setSession({ address: 'sip:a@b', gatewayUrl: 'ws://h/', password: 'pw' });
    expect(prefs.theme()).toBe('dark');
    expect(prefs.lastSignIn()).toMatchObject({ address: 'sip:a@b' });
    expect([...local.map.values()].join()).not.toContain('pw');
    expect(prefs.session()?.password).toBe('pw');
    prefs.setSession(undefined);
    expect(prefs.session()).toBeUndefined();
  });

  it('garbage or failing storage reads as empty', () => {
    const local = new MapStorage();
    local.setItem('simple-chat.theme', '"purple"');
    local.setItem('simple-chat.last-sign-in', '{not json');
    const prefs = webPreferences(local, {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('QuotaExceeded');
      },
      removeItem: () => undefined,
    });
    expect(prefs.theme()).toBe('system');
    expect(prefs.lastSignIn()).toBeUndefined();
    expect(prefs.session()).toBeUndefined();
    expect(() => {
      prefs.setSession({ address: 'a', gatewayUrl: 'b', password: 'c' });
    }).not.toThrow();
  });

  it('the embedded gateway is the page host, wss for https', () => {
    expect(defaultGatewayUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/');
    expect(defaultGatewayUrl({ protocol: 'https:', host: 'chat.example.com' })).toBe(
      'wss://chat.example.com/',
    );
  });
});
