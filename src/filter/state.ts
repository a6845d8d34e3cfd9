// What the filter works from: one compiled policy and the domain trie built from its
// lists. A reload builds a new FilterState aside and swaps the one reference.
import type { CompiledPolicy } from '../policy/policy';
import type { DomainTrie } from '../lists/trie';

export interface SourceReport {
  readonly category: string;
  readonly origin: string;
  readonly format: string;
  readonly entries: number;
  readonly allows: number;
  readonly invalid: number;
  readonly invalidSamples: readonly { line: number; reason: string; text: string }[];
  readonly error?: string;
  /** File mtime and size when read (for "unchanged" checks); absent for URLs. */
  readonly mtimeMs?: number;
  readonly size?: number;
}

export interface FilterState {
  readonly policy: CompiledPolicy;
  readonly trie: DomainTrie;
  readonly sources: readonly SourceReport[];
  /** Distinct names per category bit. */
  readonly entriesPerCategory: readonly number[];
  readonly builtAt: number;
  readonly buildMs: number;
  /** Identity of what the trie holds (see listsFingerprint); null when it cannot be known (URL sources). */
  readonly fingerprint: string | null;
  /** The policy file's text this state was compiled from. */
  readonly policyText: string;
}
