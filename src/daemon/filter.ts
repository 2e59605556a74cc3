/**
 * A FlowFilter whose rules can be swapped at run time (SIGHUP reload) while the engine keeps
 * the same object and its counters.
 */
import type { FilterConfig } from '../config/types';
import type { Cidr } from '../flow/address';
import type { Flow } from '../flow/flow';
import { FlowFilter, type FilterVerdict } from '../filter/flow-filter';

export class ReloadableFilter extends FlowFilter {
  private inner: FlowFilter;

  constructor(cfg: FilterConfig, selfAddrs: readonly Cidr[]) {
    super();
    this.inner = new FlowFilter(cfg, selfAddrs);
  }

  replace(cfg: FilterConfig, selfAddrs: readonly Cidr[]): void {
    this.inner = new FlowFilter(cfg, selfAddrs);
  }

  override verdict(f: Flow): FilterVerdict {
    return this.inner.verdict(f);
  }
}
