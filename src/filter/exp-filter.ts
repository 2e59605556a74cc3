/**
 * Expectation filter (spec §6 "ExpectationSync"): `true` = all helpers; a list = case-insensitive
 * prefix match on the helper name (`sip` matches `sip-5060`); expectations without a helper are
 * dropped when a list is given. Additionally the master conntrack must be in the internal cache.
 */
import type { Expectation } from '../flow/flow';

export type ExpectationSyncConfig = boolean | string[];

export class ExpFilterStats {
  passed = 0;
  disabled = 0;
  helper = 0;
  noMaster = 0;
}

export class ExpectationFilter {
  readonly stats = new ExpFilterStats();
  private readonly prefixes: string[] | null;

  constructor(
    private readonly cfg: ExpectationSyncConfig,
    /** Whether the master conntrack (by tuple) is in the internal cache. */
    private readonly masterKnown: (e: Expectation) => boolean,
  ) {
    this.prefixes = Array.isArray(cfg) ? cfg.map((p) => p.toLowerCase()) : null;
  }

  verdict(e: Expectation): 'pass' | 'disabled' | 'helper' | 'noMaster' {
    if (this.cfg === false) return 'disabled';
    if (this.prefixes) {
      const h = e.helper?.toLowerCase();
      if (h === undefined || !this.prefixes.some((p) => h.startsWith(p))) return 'helper';
    }
    if (!this.masterKnown(e)) return 'noMaster';
    return 'pass';
  }

  test(e: Expectation): boolean {
    const v = this.verdict(e);
    this.stats[v === 'pass' ? 'passed' : v]++;
    return v === 'pass';
  }
}
