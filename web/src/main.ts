/**
 * The app's composition root: the browser's drivers are chosen and wired here, and nowhere else.
 *
 *   TabRelayClient (one registration per browser: Web Locks + BroadcastChannel)
 *     └─ leader tab: SipChatClient — Conversations (pager or session mode) over ChatSessions, Pager and UserAgent,
 *        over SipDriver + WebSocketTransport (the browser's WebSocket; MSRP on WebSockets of its own), the system
 *        clock, crypto randomness, and this browser's RFC 5626 instance id (localStorage)
 *   IndexedDB per account · Web Storage preferences · title count and desktop notifications
 */
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import AppShell from './components/app/AppShell.vue';
import {
  SipChatClient,
  TabRelayClient,
  browserInstanceId,
  defaultGatewayUrl,
  openChatStorage,
  pageAttention,
  systemClock,
  uuidFromBytes,
  webPreferences,
  type KeyValueStorage,
  type Logger,
  type NotificationConstructorLike,
} from './drivers/index.ts';
import { provideServices } from './stores/services.ts';
import './styles.css';

/**
 * A random message id: 32 hex digits (128 bits from getRandomValues), which is also an MSRP ident (RFC 4975 §9:
 * at most 32 characters), so the same id names the message in pager and in session mode.
 */
function newId(): string {
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

/** Uniform in [0, 1) from the browser's CSPRNG: SIP tags, branches, Call-IDs and digest cnonces. */
const words = new Uint32Array(64);
let wordsLeft = 0;
function random(): number {
  if (wordsLeft === 0) {
    crypto.getRandomValues(words);
    wordsLeft = words.length;
  }
  wordsLeft -= 1;
  return (words[wordsLeft] ?? 0) / 2 ** 32;
}

/** Warnings and errors to the console; `localStorage['simple-chat.debug'] = '1'` adds the SIP trace. */
const debug = ((): boolean => {
  try {
    return webStorage(() => localStorage)?.getItem('simple-chat.debug') === '1';
  } catch {
    return false;
  }
})();
const logger: Logger = {
  debug: (line) => {
    if (debug) console.debug(line);
  },
  info: (line) => {
    if (debug) console.info(line);
  },
  warn: (line) => {
    console.warn(line);
  },
  error: (line) => {
    console.error(line);
  },
};

const instanceId = browserInstanceId(
  webStorage(() => localStorage),
  () =>
    typeof crypto.randomUUID === 'function'
      ? crypto.randomUUID()
      : uuidFromBytes(crypto.getRandomValues(new Uint8Array(16))),
);

const client = new TabRelayClient({
  locks: 'locks' in navigator ? navigator.locks : undefined,
  channel: new BroadcastChannel('simple-chat'),
  // Only the leader tab makes the real client: one registration per browser.
  createClient: () =>
    new SipChatClient({
      WebSocketImpl: WebSocket,
      clock: systemClock(),
      random,
      instanceId,
      logger,
      userAgent: 'SIMPLE chat (web)',
      onListenerError: (error) => {
        report(error, 'chat event listener');
      },
    }),
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
