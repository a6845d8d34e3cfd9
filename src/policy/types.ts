// The policy file as the loader returns it: checked, names resolved, nothing compiled yet.
// See policies/school-dns-policy.yaml for the file format and the meaning of each part.
import type { DayName } from './schedule';

/**
 * How a list file is written; "auto" lets the list builder tell from the content. The same
 * names as the list parser's formats (src/lists/parse.ts), plus "auto".
 */
export const SOURCE_FORMATS = ['auto', 'plain', 'hosts', 'adblock', 'wildcard', 'rpz', 'dnsmasq'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** Where a category's names come from: a local file (absolute path) or a URL. Exactly one is set. */
export interface SourceSpec {
  readonly path?: string;
  readonly url?: string;
  readonly format: SourceFormat;
}

export interface CategorySpec {
  readonly name: string;
  readonly description: string | null;
  readonly sources: readonly SourceSpec[];
}

export const GROUP_MODES = ['block-listed', 'allow-only'] as const;
/** block-listed: everything passes except what is blocked; allow-only: only what is allowed passes. */
export type GroupMode = (typeof GROUP_MODES)[number];

export interface ScheduleSpec {
  /** Categories blocked while the window is active. */
  readonly categories: readonly string[];
  readonly days: readonly DayName[];
  /** Minutes after local midnight, 0..1439. */
  readonly from: number;
  /** Minutes after local midnight, 0..1440 ("24:00"); less than `from` when the window crosses midnight. */
  readonly to: number;
}

/** YouTube Restricted Mode levels a group can have (see policies/school-dns-policy.yaml). */
export const YOUTUBE_MODES = ['off', 'moderate', 'strict'] as const;
export type YoutubeMode = (typeof YOUTUBE_MODES)[number];

/** What a group's queries for search engines are answered with (src/chain/safesearch-link.ts). */
export interface SafeSearchSpec {
  /** Google, Bing and DuckDuckGo answered with their SafeSearch addresses. */
  readonly search: boolean;
  /** YouTube: the real site (off), restrictmoderate.youtube.com (moderate) or restrict.youtube.com (strict). */
  readonly youtube: YoutubeMode;
}

export interface GroupSpec {
  readonly name: string;
  readonly description: string | null;
  readonly mode: GroupMode;
  /** Categories whose names this group may always reach. */
  readonly allowCategories: readonly string[];
  /** Names (with their subdomains) this group may always reach, lowercase ASCII (IDNs in punycode). */
  readonly allow: readonly string[];
  /** Categories blocked at all times. */
  readonly block: readonly string[];
  /** Names (with their subdomains) blocked at all times. */
  readonly deny: readonly string[];
  readonly schedules: readonly ScheduleSpec[];
  /** SafeSearch for this group; both off when the file does not say. */
  readonly safeSearch: SafeSearchSpec;
}

export interface NetworkSpec {
  /** Canonical prefix ("10.1.0.0/24", "2001:db8:1::/64"). */
  readonly cidr: string;
  readonly group: string;
}

export interface SchoolSpec {
  readonly name: string;
  readonly networks: readonly NetworkSpec[];
}

export interface ListenerSpec {
  /** Canonical local IP address the query arrived on. */
  readonly address: string;
  readonly group: string;
  /** The school named in the file, or "unknown". */
  readonly school: string;
}

export interface PolicySpec {
  /** The file the policy came from, for messages. */
  readonly source: string;
  /** IANA time zone for schedules. */
  readonly timezone: string;
  /** In file order: the first category gets bit 0. */
  readonly categories: readonly CategorySpec[];
  readonly groups: readonly GroupSpec[];
  readonly schools: readonly SchoolSpec[];
  readonly listeners: readonly ListenerSpec[];
  /** The group for clients no network or listener names: the file's defaultGroup, or the strictest group. */
  readonly defaultGroup: string;
}
