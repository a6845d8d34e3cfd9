// The search engines that document a DNS way to force their safe mode, and the names
// school-dns maps for each. All four ask the same of a network: answer the engine's names
// with a CNAME to a special name, whose addresses serve only filtered results.
//
// - Google Search, "Block adult content at your school with SafeSearch"
//   (support.google.com/websearch/answer/186669): www.google.com and the country domains
//   (https://www.google.com/supported_domains) to forcesafesearch.google.com.
// - YouTube, "Manage YouTube content on your network or managed devices"
//   (support.google.com/a/answer/6214622): www.youtube.com, m.youtube.com,
//   youtubei.googleapis.com, youtube.googleapis.com and www.youtube-nocookie.com to
//   restrict.youtube.com (Strict Restricted Mode) or restrictmoderate.youtube.com (Moderate).
// - Bing, "Block adult content with SafeSearch" (help.bing.microsoft.com, article 10003):
//   www.bing.com to strict.bing.com.
// - DuckDuckGo, "Safe Search" (duckduckgo.com/duckduckgo-help-pages/features/safe-search):
//   duckduckgo.com, www.duckduckgo.com and start.duckduckgo.com to safe.duckduckgo.com.
//
// Bare google.com (and the bare country domains) and bing.com are mapped as well: each
// redirects to its "www." name, but a browser could be pointed at it directly.
import { GOOGLE_FORMER_DOMAINS, GOOGLE_SUPPORTED_DOMAINS } from './google-domains';

/** Engine numbers: indexes into ENGINE_NAMES (the metric's label values). */
export const ENGINE_GOOGLE = 0;
export const ENGINE_YOUTUBE = 1;
export const ENGINE_BING = 2;
export const ENGINE_DUCKDUCKGO = 3;
export const ENGINE_NAMES = ['google', 'youtube', 'bing', 'duckduckgo'] as const;

/** The names the engines ask networks to answer with. */
export const SAFESEARCH_TARGETS = Object.freeze({
  google: 'forcesafesearch.google.com',
  youtubeStrict: 'restrict.youtube.com',
  youtubeModerate: 'restrictmoderate.youtube.com',
  bing: 'strict.bing.com',
  duckduckgo: 'safe.duckduckgo.com',
});

export const YOUTUBE_NAMES: readonly string[] = Object.freeze([
  'www.youtube.com', 'm.youtube.com', 'youtubei.googleapis.com', 'youtube.googleapis.com', 'www.youtube-nocookie.com',
]);
export const BING_NAMES: readonly string[] = Object.freeze(['www.bing.com', 'bing.com']);
export const DUCKDUCKGO_NAMES: readonly string[] = Object.freeze(['duckduckgo.com', 'www.duckduckgo.com', 'start.duckduckgo.com']);

export interface MappedName {
  /** Lowercase, without the trailing dot. */
  readonly name: string;
  readonly engine: number;
}

/** Every name that SafeSearch answers with a CNAME, with its engine. Names are unique. */
export function safeSearchNames(): MappedName[] {
  const out: MappedName[] = [];
  for (const d of [...GOOGLE_SUPPORTED_DOMAINS, ...GOOGLE_FORMER_DOMAINS]) {
    const domain = d.slice(1); // ".google.com" -> "google.com"
    out.push({ name: domain, engine: ENGINE_GOOGLE }, { name: `www.${domain}`, engine: ENGINE_GOOGLE });
  }
  for (const name of YOUTUBE_NAMES) out.push({ name, engine: ENGINE_YOUTUBE });
  for (const name of BING_NAMES) out.push({ name, engine: ENGINE_BING });
  for (const name of DUCKDUCKGO_NAMES) out.push({ name, engine: ENGINE_DUCKDUCKGO });
  return out;
}
