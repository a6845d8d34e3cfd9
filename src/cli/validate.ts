// `school-dns validate`: checks a configuration, its policy and every list source the
// policy names, without starting anything, so an operator can test a change before
// `systemctl reload` (or before the first start). The same checks the server makes at
// start and reload: the strict config and policy loaders, and each list read and parsed.
import type { Command } from 'commander';
import { ConfigError, defaultConfig, loadConfigFile } from '../config/load';
import type { Config } from '../config/types';
import { parseList } from '../lists/parse';
import { readSource } from '../lists/source';
import { loadPolicyFile } from '../policy/load';
import type { PolicySpec } from '../policy/types';

/** Exit codes: 0 everything usable; 1 a list source cannot be read; 2 the configuration or policy is invalid. */
export const VALIDATE_EXIT = { ok: 0, sourceFailed: 1, invalid: 2 } as const;

export interface SourceCheck {
  readonly category: string;
  readonly origin: string;
  readonly format: string | null;
  readonly entries: number;
  readonly invalid: number;
  readonly firstInvalid: readonly { line: number; reason: string; text: string }[];
  /** Why it could not be read, or null. */
  readonly error: string | null;
  /** URL sources are not fetched with --no-fetch. */
  readonly skipped: boolean;
}

export interface ValidateReport {
  readonly config: string;
  readonly configError: string | null;
  readonly policy: string | null;
  readonly policyError: string | null;
  readonly groups: readonly string[];
  readonly schools: number;
  readonly sources: readonly SourceCheck[];
  readonly exitCode: number;
}

export interface ValidateOptions {
  readonly config?: string;
  /** Fetch URL sources (default true). */
  readonly fetch?: boolean;
  readonly timeoutMs?: number;
}

export async function validate(opts: ValidateOptions): Promise<ValidateReport> {
  const configName = opts.config ?? '<embedded default>';
  let config: Config;
  try {
    config = opts.config ? loadConfigFile(opts.config) : defaultConfig();
  } catch (e) {
    if ((e as { code?: string }).code !== 'CONFIG_INVALID') throw e;
    return { config: configName, configError: (e as ConfigError).message, policy: null, policyError: null, groups: [], schools: 0, sources: [], exitCode: VALIDATE_EXIT.invalid };
  }
  const file = config.policy.file;
  if (file === null) {
    return { config: configName, configError: null, policy: null, policyError: null, groups: [], schools: 0, sources: [], exitCode: VALIDATE_EXIT.ok };
  }
  let spec: PolicySpec;
  try {
    spec = loadPolicyFile(file);
  } catch (e) {
    if ((e as { code?: string }).code !== 'POLICY_INVALID') throw e;
    return { config: configName, configError: null, policy: file, policyError: (e as Error).message, groups: [], schools: 0, sources: [], exitCode: VALIDATE_EXIT.invalid };
  }
  const sources: SourceCheck[] = [];
  for (const category of spec.categories) {
    for (const s of category.sources) {
      const origin = s.path ?? s.url ?? '?';
      if (s.url !== undefined && opts.fetch === false) {
        sources.push({ category: category.name, origin, format: null, entries: 0, invalid: 0, firstInvalid: [], error: null, skipped: true });
        continue;
      }
      try {
        const text = await readSource({ path: s.path, url: s.url, format: s.format }, { baseDir: '/', timeoutMs: opts.timeoutMs });
        const report = parseList(text.text, s.format, () => undefined);
        sources.push({
          category: category.name, origin: text.origin, format: report.format, entries: report.entries, invalid: report.invalid,
          firstInvalid: report.invalidSamples.slice(0, 5), error: null, skipped: false,
        });
      } catch (e) {
        const err = e as { code?: string; message?: string };
        if (err.code === undefined || !err.code.startsWith('SOURCE_')) throw e;
        sources.push({ category: category.name, origin, format: null, entries: 0, invalid: 0, firstInvalid: [], error: err.message ?? String(e), skipped: false });
      }
    }
  }
  return {
    config: configName, configError: null, policy: file, policyError: null,
    groups: spec.groups.map((g) => g.name), schools: spec.schools.length, sources,
    exitCode: sources.some((s) => s.error !== null) ? VALIDATE_EXIT.sourceFailed : VALIDATE_EXIT.ok,
  };
}

export function formatReport(r: ValidateReport): string {
  const out: string[] = [];
  if (r.configError) {
    out.push(`configuration ${r.config}: INVALID`, r.configError);
    return out.join('\n') + '\n';
  }
  out.push(`configuration ${r.config}: ok`);
  if (r.policy === null) {
    out.push('policy: none (policy.file is null): filtering is off');
    return out.join('\n') + '\n';
  }
  if (r.policyError) {
    out.push(`policy ${r.policy}: INVALID`, r.policyError);
    return out.join('\n') + '\n';
  }
  out.push(`policy ${r.policy}: ok (${r.groups.length} groups: ${r.groups.join(', ')}; ${r.schools} schools)`);
  out.push(`list sources (${r.sources.length}):`);
  for (const s of r.sources) {
    if (s.skipped) out.push(`  -  ${s.category.padEnd(16)} ${s.origin}: not fetched (--no-fetch)`);
    else if (s.error) out.push(`  !  ${s.category.padEnd(16)} ${s.error}`);
    else {
      out.push(`  ok ${s.category.padEnd(16)} ${s.origin}: ${s.entries} entries (${s.format})${s.invalid ? `, ${s.invalid} invalid lines skipped` : ''}`);
      for (const i of s.firstInvalid) out.push(`       line ${i.line}: ${i.reason}: ${i.text}`);
    }
  }
  const failed = r.sources.filter((s) => s.error).length;
  out.push(failed === 0
    ? 'everything can be used.'
    : `${failed} source${failed === 1 ? '' : 's'} cannot be read: the server would start without ${failed === 1 ? 'it' : 'them'} (and keep an older copy on reload).`);
  return out.join('\n') + '\n';
}

export function addValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check a configuration, its policy and every list source, without starting anything (exit 0 ok, 1 a list source cannot be read, 2 invalid configuration or policy)')
    .option('-c, --config <file>', 'YAML configuration file (default: the embedded default configuration)', process.env.SCHOOL_DNS_CONFIG)
    .option('--no-fetch', 'do not download URL sources (check files only)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { config?: string; fetch: boolean; json?: boolean }) => {
      const report = await validate({ config: opts.config, fetch: opts.fetch });
      process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
      process.exitCode = report.exitCode;
    });
}
