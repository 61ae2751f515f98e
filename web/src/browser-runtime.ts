/**
 * The browser's runtime, wired for the app (main.ts) and for each <simple-chat> element (widget/): the drivers and
 * nothing else — TabRelayClient (one registration per browser and origin: Web Locks + BroadcastChannel) whose
 * leader tab makes the SipChatClient (the SIP core over the browser's WebSocket to the gateway, MSRP on WebSockets
 * of its own), IndexedDB per account, Web Storage preferences, crypto randomness, the system clock, this browser's
 * RFC 5626 instance id (localStorage). The app adds page attention (title count, notifications); the widget, in
 * someone else's page, does not.
 *
 * Both use the same storage, lock and channel names: a page served by the gateway itself with the widget in it is
 * one more tab of the app (one registration, one history) rather than a second client fighting the first over
 * the same instance id.
 */
import {
  SipChatClient,
  TabRelayClient,
  browserInstanceId,
  openChatStorage,
  systemClock,
  uuidFromBytes,
  webPreferences,
  type KeyValueStorage,
  type Logger,
} from './drivers/index.ts';
import type { ChatServices } from './stores/services.ts';

/** What the app or one widget element runs on, and how it lets go of it (an element leaving the page). */
export interface BrowserRuntime {
  readonly services: ChatServices;
  dispose(): void;
}

export interface BrowserRuntimeOptions {
  /** the gateway's SIP WebSocket when the user names none */
  readonly defaultGatewayUrl: string;
  /** the User-Agent header (RFC 3261 §20.41) */
  readonly userAgent: string;
  /** how reports to the console begin */
  readonly name: string;
  readonly attention?: ChatServices['attention'];
}

/** Web Storage, or nothing where reading it throws (storage disabled, a sandboxed frame). */
function webStorage(get: () => Storage): KeyValueStorage | undefined {
  try {
    return get();
  } catch {
    return undefined;
  }
}

/**
 * A random message id: 32 hex digits (128 bits from getRandomValues), which is also an MSRP ident (RFC 4975 §9:
 * at most 32 characters), so the same id names the message in pager and in session mode.
 */
function newId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}

/** Uniform in [0, 1) from the browser's CSPRNG: SIP tags, branches, Call-IDs and digest cnonces. */
function randomSource(): () => number {
  const words = new Uint32Array(64);
  let left = 0;
  return () => {
    if (left === 0) {
      crypto.getRandomValues(words);
      left = words.length;
    }
    left -= 1;
    return (words[left] ?? 0) / 2 ** 32;
  };
}

/** Warnings and errors to the console; `localStorage['simple-chat.debug'] = '1'` adds the SIP trace. */
function consoleLogger(local: KeyValueStorage | undefined): Logger {
  let debug = false;
  try {
    debug = local?.getItem('simple-chat.debug') === '1';
  } catch {
    // storage that throws: no trace
  }
  return {
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
}

export function browserRuntime(options: BrowserRuntimeOptions): BrowserRuntime {
  const report = (error: unknown, context: string): void => {
    console.error(`${options.name}: ${context}:`, error);
  };
  const local = webStorage(() => localStorage);
  const logger = consoleLogger(local);
  const random = randomSource();
  const instanceId = browserInstanceId(local, () =>
    typeof crypto.randomUUID === 'function'
      ? crypto.randomUUID()
      : uuidFromBytes(crypto.getRandomValues(new Uint8Array(16))),
  );
  let leading: SipChatClient | undefined;
  const client = new TabRelayClient({
    locks: 'locks' in navigator ? navigator.locks : undefined,
    channel: new BroadcastChannel('simple-chat'),
    createClient: () =>
      (leading = new SipChatClient({
        WebSocketImpl: WebSocket,
        clock: systemClock(),
        random,
        instanceId,
        logger,
        userAgent: options.userAgent,
        onListenerError: (error) => {
          report(error, 'chat event listener');
        },
      })),
    newId,
    onError: (error) => {
      report(error, 'tab relay');
    },
  });
  const services: ChatServices = {
    client,
    openStorage: (address) => openChatStorage(indexedDB, address),
    now: () => Date.now(),
    newId,
    preferences: webPreferences(
      local,
      webStorage(() => sessionStorage),
    ),
    attention: options.attention,
    defaultGatewayUrl: options.defaultGatewayUrl,
    onError: report,
  };
  return {
    services,
    dispose: () => {
      // A widget element left the page: another tab (if any) takes the lead and registers again; a client this
      // tab led stops (unregisters) rather than go on receiving messages nobody sees. The relay is closed first,
      // so the other tabs do not take this for a sign-out.
      client.close();
      leading?.signOut().catch((error: unknown) => {
        report(error, 'sign out');
      });
    },
  };
}
