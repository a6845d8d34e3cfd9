// The approved review requests, in the shape the filter consults: a Map from approved name to
// the approvals for it, walked over a queried name and its parent domains. Consulted only on
// the (rare) blocked path; built aside whenever an approval is given or revoked, then swapped
// in with one assignment (FilterManager.setApprovals).

/**
 * Who an approval opens a name for:
 * - `school-group`: the requesting age group at the requesting school (the narrowest; the default);
 * - `school`: every age group at the requesting school;
 * - `group`: the requesting age group at every school.
 */
export type ApprovalScope = 'school-group' | 'school' | 'group';

export const APPROVAL_SCOPES: readonly ApprovalScope[] = ['school-group', 'school', 'group'];

export interface Approval {
  /** The request it came from. */
  readonly id: number;
  /** The approved name; it covers the name and its subdomains, like every list entry. */
  readonly name: string;
  readonly scope: ApprovalScope;
  /** The requesting school and group; which of them must match depends on the scope. */
  readonly school: string;
  readonly group: string;
}

/** Whether an approval covers a client of `school` and `group`. */
export function approvalCovers(a: Approval, school: string, group: string): boolean {
  switch (a.scope) {
    case 'school-group': return a.school === school && a.group === group;
    case 'school': return a.school === school;
    case 'group': return a.group === group;
  }
}

/** How an approval reads for a person: 'group "primary" at school "Hoa Sen"'. */
export function describeScope(a: Pick<Approval, 'scope' | 'school' | 'group'>): string {
  switch (a.scope) {
    case 'school-group': return `group "${a.group}" at school "${a.school}"`;
    case 'school': return `every group at school "${a.school}"`;
    case 'group': return `group "${a.group}" at every school`;
  }
}

export class ApprovalSet {
  static readonly EMPTY = new ApprovalSet([]);

  private readonly byName = new Map<string, Approval[]>();
  /** Number of approvals held; the filter skips the lookup entirely when it is 0. */
  readonly size: number;

  constructor(approvals: Iterable<Approval>) {
    let n = 0;
    for (const a of approvals) {
      const list = this.byName.get(a.name);
      if (list) list.push(a);
      else this.byName.set(a.name, [a]);
      n++;
    }
    for (const list of this.byName.values()) list.sort((x, y) => x.id - y.id);
    this.size = n;
  }

  /**
   * The approval that opens `name` (lowercase, no trailing dot) for a client of `school` and
   * `group`: one for the name itself or the nearest parent domain that has one; among several
   * for the same name, the oldest. Null when none does.
   */
  match(name: string, school: string, group: string): Approval | null {
    if (this.size === 0) return null;
    let at = 0;
    for (;;) {
      const list = this.byName.get(at === 0 ? name : name.slice(at));
      if (list) {
        for (const a of list) if (approvalCovers(a, school, group)) return a;
      }
      const dot = name.indexOf('.', at);
      if (dot < 0) return null;
      at = dot + 1;
    }
  }
}
