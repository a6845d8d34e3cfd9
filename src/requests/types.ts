// The seam between the block page (which takes "this should not be blocked" requests from
// children and teachers) and the store that keeps them for staff to review. The block page
// only submits; listing, approving and rejecting go through the admin API and the CLI.

/** What the block page knows when someone asks for a review. No personal data: no client address. */
export interface ReviewSubmission {
  /** The blocked name, normalised (lowercase ASCII, punycode, no trailing dot). */
  readonly name: string;
  /** School and age group of the asking device, from its address (never from the form). */
  readonly school: string;
  readonly group: string;
  /** The category that blocked it, or null when the name is not blocked for this group now. */
  readonly category: string | null;
  /** Optional free text from the form, already length-limited by the store. */
  readonly message: string;
}

export type SubmitResult =
  | { readonly ok: true; readonly id: number; /** true when an identical pending request already existed. */ readonly duplicate: boolean }
  | { readonly ok: false; readonly code: 'RATE_LIMITED' | 'STORE_FULL' | 'INVALID' | 'STORE_FAILED'; readonly message: string };

/** Implemented by the request store (src/requests/store.ts); used by the block page. */
export interface ReviewSink {
  /** `source` is the asking device's address, used only for rate limiting and never stored. */
  submit(s: ReviewSubmission, source: string): Promise<SubmitResult>;
}
