// Time windows for categories that are blocked only at certain times (lesson hours).
//
// A window is a set of days of the week and a range of local times [from, to), in minutes
// after local midnight, in the policy's time zone (by default Asia/Ho_Chi_Minh). It is active
// at a moment when that moment's local day is one of the days and from <= minute < to.
//
// A window whose `from` is later than its `to` crosses midnight: it runs from `from` on one of
// its days until `to` on the next day, and it belongs to the day it starts on. So
// { days: [fri], from: "22:00", to: "06:00" } is active from Friday 22:00 to Saturday 06:00,
// and not from Thursday night into Friday morning. `to` may be "24:00" (the end of the day),
// so a window can cover a whole day: from "00:00" to "24:00". `from` equal to `to` is refused
// by the policy loader: it would mean either nothing or the whole day.
//
// Local time comes from Intl.DateTimeFormat.formatToParts with one formatter per time zone,
// created once. Every time zone in use today is offset from UTC by whole minutes, so a local
// minute starts and ends with a UTC minute: callers can key their caches on
// Math.floor(now / 60000) and ask for the local time once per minute.

export const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type DayName = (typeof DAY_NAMES)[number];

export const MINUTES_PER_DAY = 1440;

export interface TimeWindow {
  /** Bit d set when the window applies on DAY_NAMES[d] (0 = Sunday, like Date.getDay()). */
  readonly days: number;
  /** Minutes after local midnight, 0..1439. */
  readonly from: number;
  /** Minutes after local midnight, 0..1440; less than `from` when the window crosses midnight. */
  readonly to: number;
}

export interface LocalTime {
  /** 0 = Sunday .. 6 = Saturday. */
  readonly day: number;
  /** Minutes after local midnight, 0..1439. */
  readonly minute: number;
}

/** The day-set bitmask of a list of day names. */
export function daysMask(days: readonly DayName[]): number {
  let mask = 0;
  for (const d of days) mask |= 1 << DAY_NAMES.indexOf(d);
  return mask;
}

/**
 * "07:30" -> 450. Hours 0..23 (one or two digits), minutes two digits; "24:00" only when
 * `endOfDay` is allowed. Returns the minutes, or what is wrong.
 */
export function parseTimeOfDay(text: string, endOfDay: boolean): number | string {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return 'must be a time of day written "HH:MM", like "07:30"';
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h === 24 && min === 0) return endOfDay ? MINUTES_PER_DAY : '"24:00" is only for "to", the end of the day; write "00:00"';
  if (h > 23) return 'has an hour past 23';
  if (min > 59) return 'has minutes past 59';
  return h * 60 + min;
}

/** "HH:MM" for minutes after midnight. */
export function formatTimeOfDay(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

/** Whether the window is active at this local day and minute. */
export function windowActive(w: TimeWindow, day: number, minute: number): boolean {
  if (w.from < w.to) return (w.days & (1 << day)) !== 0 && minute >= w.from && minute < w.to;
  // crosses midnight: the evening part on one of its days, the morning part on the day after
  if (minute >= w.from) return (w.days & (1 << day)) !== 0;
  if (minute < w.to) return (w.days & (1 << ((day + 6) % 7))) !== 0;
  return false;
}

/** Whether Intl knows the time zone (an IANA name such as "Asia/Ho_Chi_Minh", or "UTC"). */
export function isValidTimeZone(timeZone: string): boolean {
  if (timeZone === '') return false;
  try {
    new Intl.DateTimeFormat(undefined, { timeZone });
    return true;
  } catch {
    return false;
  }
}

const WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Local day and minute in one time zone. The formatter is made once per zone and shared. */
export class ZonedClock {
  private readonly format: Intl.DateTimeFormat;

  /** Throws a RangeError for an unknown time zone. */
  constructor(readonly timeZone: string) {
    let f = formatters.get(timeZone);
    if (f === undefined) {
      f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
      formatters.set(timeZone, f);
    }
    this.format = f;
  }

  /** The local day of the week and minute of the day at `now` (milliseconds since the epoch). */
  at(now: number): LocalTime {
    let day = -1;
    let hour = -1;
    let minute = -1;
    for (const p of this.format.formatToParts(now)) {
      if (p.type === 'weekday') day = WEEKDAYS[p.value] ?? -1;
      else if (p.type === 'hour') hour = Number(p.value) % 24;
      else if (p.type === 'minute') minute = Number(p.value);
    }
    if (day < 0 || hour < 0 || minute < 0) throw new Error(`cannot read the local time in ${this.timeZone}`);
    return { day, minute: hour * 60 + minute };
  }

  /** Whether the window is active at `now`. */
  active(w: TimeWindow, now: number): boolean {
    const t = this.at(now);
    return windowActive(w, t.day, t.minute);
  }
}
