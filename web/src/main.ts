/**
 * The app's composition root: the browser's drivers are chosen here (browser-runtime.ts wires them, for the widget
 * too), and nowhere else.
 *
 *   TabRelayClient (one registration per browser: Web Locks + BroadcastChannel)
 *     └─ leader tab: SipChatClient — Conversations (pager or session mode) over ChatSessions, Pager and UserAgent,
 *        over SipDriver + WebSocketTransport (the browser's WebSocket; MSRP on WebSockets of its own), the system
 *        clock, crypto randomness, and this browser's RFC 5626 instance id (localStorage)
 *   IndexedDB per account · Web Storage preferences · title count and desktop notifications
 */
import { createPinia } from 'pinia';
import { createApp } from 'vue';
import { browserRuntime } from './browser-runtime.ts';
import AppShell from './components/app/AppShell.vue';
import { defaultGatewayUrl, pageAttention, type NotificationConstructorLike } from './drivers/index.ts';
import { provideServices } from './stores/services.ts';
import './styles.css';

const runtime = browserRuntime({
  name: 'simple-chat',
  userAgent: 'SIMPLE chat (web)',
  defaultGatewayUrl: defaultGatewayUrl(location),
  attention: pageAttention({
    document,
    Notification: 'Notification' in window ? (Notification as NotificationConstructorLike) : undefined,
    focus: () => {
      window.focus();
    },
  }),
});

const pinia = createPinia();
provideServices(pinia, runtime.services);
createApp(AppShell).use(pinia).mount('#app');
