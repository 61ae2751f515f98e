/**
 * Times and names as the UI shows them, in the user's locale: "14:05" today, "Tue" this week, "3 Mar" before.
 */
const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const date = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullDay = new Intl.DateTimeFormat(undefined, {
  weekday: 'long',
  day: 'numeric',
  month: 'long',
  year: 'numeric',
});
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const DAY = 86_400_000;

function startOfDay(at: number): number {
  const d = new Date(at);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function formatTime(at: number): string {
  return time.format(at);
}

/** Full date and time, for a tooltip. */
export function formatFull(at: number): string {
  return full.format(at);
}

/** For the conversation list: the time today, the weekday within a week, else the date. */
export function formatListTime(at: number, now: number): string {
  const today = startOfDay(now);
  if (at >= today) return time.format(at);
  if (at >= today - 6 * DAY) return weekday.format(at);
  return date.format(at);
}

/** The day separator in a conversation: "Today", "Yesterday", or the full date. */
export function formatDay(at: number, now: number): string {
  const today = startOfDay(now);
  if (at >= today) return 'Today';
  if (at >= today - DAY) return 'Yesterday';
  return fullDay.format(at);
}

export function sameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** Seconds left until `at`, never negative, for countdowns. */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}
