import {
  daysMask,
  formatTimeOfDay,
  isValidTimeZone,
  parseTimeOfDay,
  windowActive,
  ZonedClock,
  type TimeWindow,
} from '../../src/policy/schedule';

// Every instant here is fixed in UTC; nothing reads the wall clock, and the machine's own
// time zone does not matter. 2024-01-01 was a Monday.
const utc = (day: number, hour: number, minute = 0): number => Date.UTC(2024, 0, day, hour, minute);

describe('ZonedClock', () => {
  it.each([
    // Asia/Ho_Chi_Minh is UTC+7 all year
    ['Asia/Ho_Chi_Minh', utc(1, 0, 30), 1, 7 * 60 + 30], // Mon 07:30
    ['Asia/Ho_Chi_Minh', utc(1, 16, 59), 1, 23 * 60 + 59], // Mon 23:59
    ['Asia/Ho_Chi_Minh', utc(1, 17, 0), 2, 0], // Tue 00:00: the local day changes at 17:00 UTC
    ['Asia/Ho_Chi_Minh', utc(6, 20, 0), 0, 3 * 60], // Sat 20:00 UTC = Sun 03:00
    ['Asia/Ho_Chi_Minh', utc(7, 16, 59), 0, 23 * 60 + 59], // Sun 23:59
    ['Asia/Ho_Chi_Minh', utc(7, 17, 0), 1, 0], // Mon 00:00
    // the same instant elsewhere
    ['UTC', utc(1, 20, 0), 1, 20 * 60],
    ['Europe/London', utc(1, 20, 0), 1, 20 * 60],
    ['America/Los_Angeles', utc(1, 20, 0), 1, 12 * 60], // UTC-8 in January
    ['America/Los_Angeles', utc(1, 5, 0), 0, 21 * 60], // still Sunday there
    ['Pacific/Kiritimati', utc(1, 12, 0), 2, 2 * 60], // UTC+14: already Tuesday
    ['Asia/Kolkata', utc(1, 0, 0), 1, 5 * 60 + 30], // half-hour offset
  ])('%s at %d: day %d, minute %d', (tz, now, day, minute) => {
    expect(new ZonedClock(tz).at(now)).toEqual({ day, minute });
  });

  it('follows daylight saving time (America/New_York, 10 March 2024)', () => {
    const clock = new ZonedClock('America/New_York');
    expect(clock.at(Date.UTC(2024, 2, 10, 6, 59))).toEqual({ day: 0, minute: 1 * 60 + 59 }); // 01:59 EST
    expect(clock.at(Date.UTC(2024, 2, 10, 7, 0))).toEqual({ day: 0, minute: 3 * 60 }); // 03:00 EDT
  });

  it('throws for an unknown time zone', () => {
    expect(() => new ZonedClock('Mars/Olympus_Mons')).toThrow(RangeError);
  });

  it('active() applies a window at an instant', () => {
    const clock = new ZonedClock('Asia/Ho_Chi_Minh');
    const lessons: TimeWindow = { days: daysMask(['mon', 'tue', 'wed', 'thu', 'fri']), from: 450, to: 990 };
    expect(clock.active(lessons, utc(1, 1, 0))).toBe(true); // Mon 08:00
    expect(clock.active(lessons, utc(1, 10, 0))).toBe(false); // Mon 17:00
    expect(clock.active(lessons, utc(6, 1, 0))).toBe(false); // Sat 08:00
  });
});

describe('windowActive', () => {
  const weekdays = daysMask(['mon', 'tue', 'wed', 'thu', 'fri']);
  const day: TimeWindow = { days: weekdays, from: 7 * 60 + 30, to: 16 * 60 + 30 };
  const night: TimeWindow = { days: daysMask(['fri']), from: 22 * 60, to: 6 * 60 };
  const sundayNight: TimeWindow = { days: daysMask(['sun']), from: 21 * 60, to: 7 * 60 };
  const wholeDay: TimeWindow = { days: daysMask(['sat']), from: 0, to: 1440 };
  const SUN = 0, MON = 1, THU = 4, FRI = 5, SAT = 6;

  it.each([
    ['day window: at from', day, MON, 450, true],
    ['day window: a minute before from', day, MON, 449, false],
    ['day window: the last minute', day, FRI, 989, true],
    ['day window: at to (the end is not included)', day, FRI, 990, false],
    ['day window: another day', day, SAT, 600, false],
    ['day window: Sunday', day, SUN, 600, false],
    ['night: Friday evening', night, FRI, 22 * 60, true],
    ['night: Friday 23:59', night, FRI, 1439, true],
    ['night: Saturday 00:00 belongs to Friday', night, SAT, 0, true],
    ['night: Saturday 05:59', night, SAT, 359, true],
    ['night: Saturday 06:00', night, SAT, 360, false],
    ['night: Friday morning belongs to Thursday, not a listed day', night, FRI, 60, false],
    ['night: Friday daytime', night, FRI, 12 * 60, false],
    ['night: Thursday evening', night, THU, 23 * 60, false],
    ['night: Saturday evening', night, SAT, 23 * 60, false],
    ['Sunday night runs into Monday (the week wraps)', sundayNight, MON, 6 * 60, true],
    ['Sunday night: Sunday morning is Saturday night, not listed', sundayNight, SUN, 6 * 60, false],
    ['Sunday night: Sunday 21:00', sundayNight, SUN, 21 * 60, true],
    ['whole day: 00:00', wholeDay, SAT, 0, true],
    ['whole day: 23:59', wholeDay, SAT, 1439, true],
    ['whole day: not Sunday 00:00', wholeDay, SUN, 0, false],
  ])('%s', (_name, w, d, minute, active) => {
    expect(windowActive(w, d, minute)).toBe(active);
  });
});

describe('parseTimeOfDay, formatTimeOfDay, daysMask, isValidTimeZone', () => {
  it.each([
    ['07:30', false, 450],
    ['7:30', false, 450],
    ['00:00', false, 0],
    ['23:59', false, 1439],
    ['24:00', true, 1440],
    ['24:00', false, '"24:00" is only for "to"'],
    ['25:00', true, 'has an hour past 23'],
    ['07:60', false, 'has minutes past 59'],
    ['7.30', false, 'must be a time of day written "HH:MM"'],
    ['0730', false, 'must be a time of day written "HH:MM"'],
    ['07:3', false, 'must be a time of day written "HH:MM"'],
  ])('%s (end of day %s)', (text, endOfDay, expected) => {
    const r = parseTimeOfDay(text, endOfDay);
    if (typeof expected === 'number') expect(r).toBe(expected);
    else expect(r).toContain(expected);
  });

  it('formats times', () => {
    expect(formatTimeOfDay(450)).toBe('07:30');
    expect(formatTimeOfDay(1440)).toBe('24:00');
  });

  it('makes day masks with Sunday as bit 0', () => {
    expect(daysMask(['sun'])).toBe(1);
    expect(daysMask(['mon', 'sat'])).toBe(2 | 64);
  });

  it.each([
    ['Asia/Ho_Chi_Minh', true],
    ['Asia/Saigon', true],
    ['UTC', true],
    ['Mars/Olympus_Mons', false],
    ['UTC+7', false],
    ['', false],
  ])('time zone %j valid: %s', (tz, valid) => {
    expect(isValidTimeZone(tz)).toBe(valid);
  });
});
