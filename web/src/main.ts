/**
 * The app's composition root: the browser's drivers are chosen and wired here, and nowhere else.
 *
 *   TabRelayClient (one registration per browser: Web Locks + BroadcastChannel)
 *     └─ leader tab: the ChatClient — for now PlaceholderChatClient, which says "not connected"; the real
 *        adapter (UserAgent + pager + SipDriver + WebSocketTransport) replaces it in createClient below
 *   IndexedDB per account · Web Storage preferences · title count and desktop notifications
 */
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import AppShell from './components/app/AppShell.vue';
import {
  PlaceholderChatClient,
  TabRelayClient,
  defaultGatewayUrl,
  openChatStorage,
  pageAttention,
  webPreferences,
  type KeyValueStorage,
  type NotificationConstructorLike,
} from './drivers/index.ts';
import { provideServices } from './stores/services.ts';
import './styles.css';

/** A random id: UUID where the page is a secure context, else hex from getRandomValues (plain-http LAN use). */
function newId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

/** Web Storage, or nothing where reading it throws (storage disabled). */
function webStorage(get: () => Storage): KeyValueStorage | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

const report = (error: unknown, context: string): void => {
  console.error(`simple-chat: ${context}:`, error);
};

const client = new TabRelayClient({
  locks: 'locks' in navigator ? navigator.locks : undefined,
  channel: new BroadcastChannel('simple-chat'),
  createClient: () => new PlaceholderChatClient(),
  newId,
  onError: (error) => {
    report(error, 'tab relay');
  },
});

const pinia = createPinia();
provideServices(pinia, {
  client,
  openStorage: (address) => openChatStorage(indexedDB, address),
  now: () => Date.now(),
  newId,
  preferences: webPreferences(
    webStorage(() => localStorage),
    webStorage(() => sessionStorage),
  ),
  attention: pageAttention({
    document,
    Notification: 'Notification' in window ? (Notification as NotificationConstructorLike) : undefined,
    focus: () => {
      window.focus();
    },
  }),
  defaultGatewayUrl: defaultGatewayUrl(location),
  onError: report,
});

createApp(AppShell).use(pinia).mount('#app');
