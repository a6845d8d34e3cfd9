// Text the CLI prints from what a server sent: made safe for a terminal and short.

/** Text from the server made safe for a terminal (no control characters) and cut to `max` characters. */
export function clean(s: string, max: number): string {
  const cps = Array.from(s.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g, ' '));
  return cps.length <= max ? cps.join('') : `${cps.slice(0, max - 1).join('')}…`;
}

/** "2024-05-06 09:14" in this machine's time zone. */
export function localTime(isoTime: string): string {
  const d = new Date(isoTime);
  if (Number.isNaN(d.getTime())) return '?';
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The admin API's `error` field, or the start of whatever else it answered, made safe to print. */
export function serverError(body: unknown, max = 400): string {
  const error = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : String(body).slice(0, max);
  return clean(error, max);
}
