/**
 * Preferences: small settings in Web Storage. The theme, the last sign-in (address, gateway URL) and the
 * presence status each account chose (with its note) live in localStorage; the password only in sessionStorage, so a reload of the tab signs in again by itself but a new
 * browser session asks for it (the password is never written anywhere that outlives the tab's session).
 * Storage that throws (private mode, disabled cookies) is treated as empty.
 */
import { PRESENCE_STATUSES, type PresenceChoice } from './chat-client.ts';

export type ThemeChoice = 'system' | 'light' | 'dark';

export interface LastSignIn {
  readonly address: string;
  readonly gatewayUrl: string;
  readonly displayName?: string | undefined;
}

export interface SessionCredentials extends LastSignIn {
  readonly password: string;
}

export interface Preferences {
  theme(): ThemeChoice;
  setTheme(theme: ThemeChoice): void;
  lastSignIn(): LastSignIn | undefined;
  setLastSignIn(value: LastSignIn): void;
  session(): SessionCredentials | undefined;
  setSession(value: SessionCredentials | undefined): void;
  /** the presence status an account chose (published at its next sign-in); undefined: never chose one */
  presence(address: string): PresenceChoice | undefined;
  setPresence(address: string, value: PresenceChoice): void;
}

/** The part of Web Storage used here (window.localStorage, or a Map-backed fake in tests). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const KEY = {
  theme: 'simple-chat.theme',
  last: 'simple-chat.last-sign-in',
  session: 'simple-chat.session',
  presence: 'simple-chat.presence',
};

function read<T>(
  storage: KeyValueStorage | undefined,
  key: string,
  valid: (value: unknown) => value is T,
): T | undefined {
  try {
    const text = storage?.getItem(key);
    if (!text) return undefined;
    const value: unknown = JSON.parse(text);
    return valid(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function write(storage: KeyValueStorage | undefined, key: string, value: unknown): void {
  try {
    if (value === undefined) storage?.removeItem(key);
    else storage?.setItem(key, JSON.stringify(value));
  } catch {
    // full or disabled storage: the preference lasts for this page only
  }
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isTheme = (value: unknown): value is ThemeChoice =>
  value === 'system' || value === 'light' || value === 'dark';
const isLast = (value: unknown): value is LastSignIn =>
  typeof value === 'object' &&
  value !== null &&
  isString((value as LastSignIn).address) &&
  isString((value as LastSignIn).gatewayUrl);
const isSession = (value: unknown): value is SessionCredentials =>
  isLast(value) && isString((value as SessionCredentials).password);
const isChoice = (value: unknown): value is PresenceChoice =>
  typeof value === 'object' &&
  value !== null &&
  PRESENCE_STATUSES.includes((value as PresenceChoice).status) &&
  ((value as PresenceChoice).note === undefined || isString((value as PresenceChoice).note));
const isChoices = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function webPreferences(
  local: KeyValueStorage | undefined,
  session: KeyValueStorage | undefined,
): Preferences {
  return {
    theme: () => read(local, KEY.theme, isTheme) ?? 'system',
    setTheme: (theme) => {
      write(local, KEY.theme, theme);
    },
    lastSignIn: () => read(local, KEY.last, isLast),
    setLastSignIn: (value) => {
      write(local, KEY.last, {
        address: value.address,
        gatewayUrl: value.gatewayUrl,
        displayName: value.displayName,
      });
    },
    session: () => read(session, KEY.session, isSession),
    setSession: (value) => {
      write(session, KEY.session, value);
    },
    presence: (address) => {
      const choice = read(local, KEY.presence, isChoices)?.[address];
      return isChoice(choice) ? { status: choice.status, note: choice.note } : undefined;
    },
    setPresence: (address, value) => {
      const choices = read(local, KEY.presence, isChoices) ?? {};
      write(local, KEY.presence, { ...choices, [address]: { status: value.status, note: value.note } });
    },
  };
}

/**
 * The gateway URL for the embedded mode: the WebSocket on the host that served the page (`npm start` serves
 * the app and the SIP WebSocket on one port), wss: when the page came over https.
 */
export function defaultGatewayUrl(location: { readonly protocol: string; readonly host: string }): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host || '127.0.0.1:8080'}/`;
}
