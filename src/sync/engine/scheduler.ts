/** The real-time Scheduler for the composition root (tests use a manual one). */
import type { Clock } from '../../core/clock';
import type { Scheduler } from '../channel-port';

export function realScheduler(clock: Clock): Scheduler {
  return {
    setTimer: (atMs, fn) => {
      const t = setTimeout(fn, Math.max(0, Math.ceil(atMs - clock.now())));
      t.unref?.();
      return t;
    },
    clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
    defer: (fn) => {
      setImmediate(fn);
    },
  };
}
