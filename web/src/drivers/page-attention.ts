/**
 * PageAttention: how a hidden tab gets the user's attention. The unread count goes in front of the document
 * title ("(3) SIMPLE chat"), and a desktop notification is shown per message when the user allowed them. The
 * browser's objects are injected, so tests pass fakes and a page without the Notification API still works.
 */
export type NotificationPermissionState = 'granted' | 'denied' | 'default' | 'unsupported';

export interface AttentionNotice {
  readonly title: string;
  readonly body: string;
  /** notices with the same tag replace each other (one per conversation) */
  readonly tag: string;
  readonly onClick?: (() => void) | undefined;
}

export interface Attention {
  /** Shows `count` unread messages in the title (0 restores the plain title). */
  setUnread(count: number): void;
  permission(): NotificationPermissionState;
  /** Asks for permission to notify; must run from a user gesture (a click). */
  requestPermission(): Promise<NotificationPermissionState>;
  notify(notice: AttentionNotice): void;
}

/** The parts of the browser's Notification constructor used here. */
export interface NotificationLike {
  onclick: (() => void) | null;
  close(): void;
}
export interface NotificationConstructorLike {
  new (title: string, options: { body: string; tag: string }): NotificationLike;
  readonly permission: 'granted' | 'denied' | 'default';
  requestPermission(): Promise<'granted' | 'denied' | 'default'>;
}

export interface PageAttentionOptions {
  /** where the title is written (document) */
  readonly document: { title: string };
  readonly Notification?: NotificationConstructorLike | undefined;
  /** brings the tab to the front when a notification is clicked (window.focus) */
  readonly focus?: (() => void) | undefined;
}

export function pageAttention(options: PageAttentionOptions): Attention {
  const doc = options.document;
  const base = doc.title.replace(/^\(\d+\) /, '');
  const Impl = options.Notification;
  return {
    setUnread(count) {
      doc.title = count > 0 ? `(${count > 99 ? '99+' : count}) ${base}` : base;
    },
    permission: () => Impl?.permission ?? 'unsupported',
    async requestPermission() {
      if (!Impl) return 'unsupported';
      return Impl.requestPermission();
    },
    notify(notice) {
      if (Impl?.permission !== 'granted') return;
      try {
        const shown = new Impl(notice.title, { body: notice.body, tag: notice.tag });
        shown.onclick = () => {
          options.focus?.();
          notice.onClick?.();
          shown.close();
        };
      } catch {
        // Some mobile browsers only notify from a service worker: the title count still tells.
      }
    },
  };
}
