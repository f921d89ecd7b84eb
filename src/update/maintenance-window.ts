import { readDurationMs } from '../duration.js';
import { KeelError } from '../errors.js';

/**
 * Reboot windows, pure functions of a clock passed in. Two forms arrive from configuration:
 * locksmith's (`window_start: "Thu 04:00"`, `window_length: "1h30m"`; no day = every day)
 * and Zincati's weekly windows (days, start, length, time zone). Both become `Window`s in
 * wall-clock time of a zone; a window's opening is the instant that wall-clock time occurs
 * (DST included) and it lasts `lengthMinutes` of real time.
 */
export interface Window {
  /** 0 = Sunday … 6 = Saturday. */
  days: number[];
  startMinutes: number;
  lengthMinutes: number;
  timeZone: string;
}

const dayNames = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const minuteMs = 60_000;

/** A day name (Mon, monday, Thu…) as 0–6. */
export function dayOf(name: string): number {
  const i = dayNames.indexOf(name.trim().toLowerCase().slice(0, 3));
  if (i < 0) throw new KeelError('invalid-input', `reboot window: expected a day name like Thu, found '${name}'`);
  return i;
}

/** `HH:MM` as minutes after midnight. */
export function minutesOf(hhmm: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm.trim());
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) throw new KeelError('invalid-input', `reboot window: expected HH:MM, found '${hhmm}'`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * locksmith's form: `[Day ]HH:MM` plus a duration in keel's one grammar (src/duration.ts,
 * the one cloud-config validates `window_length` with), in `timeZone` (default UTC).
 */
export function locksmithWindow(start: string, length: string, timeZone = 'UTC'): Window {
  const words = start.trim().split(/\s+/);
  const days = words.length === 2 ? [dayOf(words[0]!)] : [0, 1, 2, 3, 4, 5, 6];
  const lengthMinutes = readDurationMs(length, 'reboot window length') / minuteMs;
  const limit = words.length === 2 ? 7 * 24 * 60 : 24 * 60;
  if (lengthMinutes <= 0 || lengthMinutes >= limit) throw new KeelError('invalid-input', `reboot window: length ${length} must be above zero and under ${words.length === 2 ? '7 days with a day' : '24h without one'}`);
  checkZone(timeZone);
  return { days, startMinutes: minutesOf(words.at(-1)!), lengthMinutes, timeZone };
}

/** Zincati's form: days, `HH:MM`, length in minutes, time zone. */
export function weeklyWindow(days: string[], start: string, lengthMinutes: number, timeZone = 'UTC'): Window {
  if (!(lengthMinutes > 0 && lengthMinutes <= 7 * 24 * 60)) throw new KeelError('invalid-input', `reboot window: length ${lengthMinutes} minutes must be between 1 and a week`);
  checkZone(timeZone);
  return { days: days.map(dayOf), startMinutes: minutesOf(start), lengthMinutes, timeZone };
}

/** True when `nowMs` is inside one of the windows; no windows means always. */
export function windowOpen(windows: readonly Window[], nowMs: number): boolean {
  if (windows.length === 0) return true;
  return windows.some((w) => openingsAround(w, nowMs).some((start) => nowMs >= start && nowMs < start + w.lengthMinutes * minuteMs));
}

/** The next instant a window opens after `nowMs` (or `nowMs` when one is open); undefined without windows. */
export function nextOpening(windows: readonly Window[], nowMs: number): number | undefined {
  if (windows.length === 0 || windowOpen(windows, nowMs)) return nowMs;
  const future = windows.flatMap((w) => openingsAround(w, nowMs)).filter((t) => t > nowMs);
  return future.length ? Math.min(...future) : undefined;
}

/**
 * When the windows open at `nowMs` close (the last of them, when several overlap): how long
 * a reboot decided now may still wait for its slot. `nowMs` when none is open; undefined
 * without windows (always open).
 */
export function openUntil(windows: readonly Window[], nowMs: number): number | undefined {
  if (windows.length === 0) return undefined;
  const lengthOf = (w: Window) => w.lengthMinutes * minuteMs;
  const ends = windows.flatMap((w) => openingsAround(w, nowMs).filter((start) => start <= nowMs && nowMs < start + lengthOf(w)).map((start) => start + lengthOf(w)));
  return ends.length ? Math.max(...ends) : nowMs;
}

/** Openings of a window from 8 days before to 8 days after `nowMs`. */
function openingsAround(w: Window, nowMs: number): number[] {
  const out: number[] = [];
  for (let d = -8; d <= 8; d++) {
    const p = zonedParts(nowMs + d * 86_400_000, w.timeZone);
    if (!w.days.includes(p.weekday)) continue;
    out.push(instantOf(p.year, p.month, p.day, w.startMinutes, w.timeZone));
  }
  return out;
}

interface ZonedParts {
  year: number;
  month: number;
  day: number;
  weekday: number;
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock parts of an instant in a zone. */
export function zonedParts(ms: number, timeZone: string): ZonedParts {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', weekday: 'short', hour: 'numeric', minute: 'numeric' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), weekday: dayOf(parts.weekday!), minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

/**
 * The instant a wall-clock time occurs in a zone: the earlier one when the time occurs twice
 * (autumn), and with the offset from before the change when it does not occur (spring: an
 * hour later on the clock).
 */
function instantOf(year: number, month: number, day: number, minutes: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  const before = wall - offsetMs(wall - 86_400_000, timeZone);
  const after = wall - offsetMs(wall + 86_400_000, timeZone);
  const valid = [before, after].filter((t) => {
    const p = zonedParts(t, timeZone);
    return p.day === day && p.minutes === minutes;
  });
  return valid.length ? Math.min(...valid) : before;
}

function offsetMs(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, 0, p.minutes);
  return asUtc - Math.floor(ms / minuteMs) * minuteMs;
}

function checkZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch (error) {
    throw new KeelError('invalid-input', `reboot window: unknown time zone '${timeZone}'`, { cause: error });
  }
}

/** A cron expression (node-cron, with seconds) that fires when the window opens. */
export function cronOfWindow(w: Window): string {
  return `0 ${w.startMinutes % 60} ${Math.floor(w.startMinutes / 60)} * * ${w.days.join(',')}`;
}
