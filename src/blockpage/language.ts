// Which language the block page shows first. Vietnamese unless the browser's Accept-Language
// (RFC 9110 §12.5.4) prefers English: each language gets the quality value of the most
// specific range naming it ("en-US" and "en" both name English; "*" names both), and English
// goes first only when its value is strictly higher. Malformed entries are skipped.

export type Lang = 'vi' | 'en';

/** The page's languages, the preferred one first. */
export type LangOrder = readonly [Lang, Lang];

export const VI_FIRST: LangOrder = Object.freeze(['vi', 'en'] as const);
export const EN_FIRST: LangOrder = Object.freeze(['en', 'vi'] as const);

/** Ranges read from one header; more are ignored (a header is at most a few KiB anyway). */
const MAX_RANGES = 64;
const RANGE = /^(?:\*|[a-z]{1,8}(?:-[a-z0-9]{1,8})*)$/i;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

/** Quality values for Vietnamese and English from an Accept-Language header (absent: both 0). */
export function languageQualities(header: string | undefined): { vi: number; en: number } {
  let vi = -1;
  let en = -1;
  let any = -1;
  if (header) {
    const ranges = header.split(',', MAX_RANGES);
    for (const raw of ranges) {
      const parts = raw.split(';');
      const range = parts[0]!.trim();
      if (!RANGE.test(range)) continue;
      let q = 1;
      let ok = true;
      for (const p of parts.slice(1)) {
        const m = /^\s*q\s*=\s*(\S*)\s*$/i.exec(p);
        if (!m) continue; // other parameters are not defined for Accept-Language; ignore them
        if (!QVALUE.test(m[1]!)) { ok = false; break; }
        q = Number(m[1]);
      }
      if (!ok) continue;
      const primary = range.split('-')[0]!.toLowerCase();
      if (primary === '*') any = Math.max(any, q);
      else if (primary === 'vi') vi = Math.max(vi, q);
      else if (primary === 'en') en = Math.max(en, q);
    }
  }
  return { vi: vi >= 0 ? vi : Math.max(any, 0), en: en >= 0 ? en : Math.max(any, 0) };
}

/** Vietnamese first, unless the header gives English a strictly higher quality. */
export function languageOrder(acceptLanguage: string | undefined): LangOrder {
  const q = languageQualities(acceptLanguage);
  return q.en > q.vi ? EN_FIRST : VI_FIRST;
}
