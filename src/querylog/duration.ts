// Durations as staff type them for `school-dns report --since`: "7d", "24h", "30m", "2w",
// or several parts, "1d12h". Parsed the same way by the CLI and by the admin API.

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The longest duration accepted: ten years, far beyond any retention. */
export const MAX_DURATION_MS = 3650 * 86_400_000;

export class DurationError extends Error {
  readonly code = 'BAD_DURATION';
}

/** Milliseconds in a duration like "7d"; throws DurationError saying what is wrong. */
export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase();
  const example = 'like "7d" (days), "24h" (hours), "30m" (minutes), "2w" (weeks) or "1d12h"';
  if (t === '') throw new DurationError(`a duration is needed, ${example}`);
  if (!/^(\d{1,7}[wdhm])+$/.test(t)) {
    const hint = /^\d+$/.test(t) ? ': a unit is needed after the number' : /^\d+\s*(s|sec|secs|seconds?)$/.test(t) ? ': seconds are too fine for a report; use minutes' : '';
    throw new DurationError(`"${text.slice(0, 40)}" is not a duration${hint}; write one ${example}`);
  }
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([wdhm])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  if (ms === 0) throw new DurationError(`"${text.slice(0, 40)}" is no time at all; write one ${example}`);
  if (ms > MAX_DURATION_MS) throw new DurationError(`"${text.slice(0, 40)}" is longer than ten years`);
  return ms;
}

/** "7d", "1d12h", "30m": the shortest spelling of a whole number of minutes. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms / 60_000);
  if (rest <= 0) return '0m';
  let out = '';
  for (const [unit, size] of [['d', 1440], ['h', 60], ['m', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
