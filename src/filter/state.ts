// What the filter works from: one compiled policy and the domain trie built from its
// lists. A reload builds a new FilterState aside and swaps the one reference.
import type { CompiledPolicy } from '../policy/policy';
import type { PolicySpec } from '../policy/types';
import type { DomainTrie } from '../lists/trie';
import type { SourceResult } from '../lists/build';

export interface FilterState {
  readonly policy: CompiledPolicy;
  readonly trie: DomainTrie;
  /** What each list source gave (or why it could not be read). */
  readonly sources: readonly SourceResult[];
  /** Distinct names per category bit. */
  readonly entriesPerCategory: readonly number[];
  readonly builtAt: number;
  readonly buildMs: number;
  /** Identity of what the trie holds (see listsFingerprint); null when it cannot be known (a file that cannot be stat'ed). */
  readonly fingerprint: string | null;
  /** Identity of the texts the URL sources gave (see UrlSources.refresh); undefined without URL sources. */
  readonly urlIds?: string;
  /** The policy file's text this state was compiled from. */
  readonly policyText: string;
  /** The policy file as its loader read it (category descriptions, group settings), parsed once in the builder process. */
  readonly spec: PolicySpec;
}
