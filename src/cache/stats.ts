/**
 * Cache counters (spec §5.7 "cache internal/external" and "-s cache"). Plain fields, read by the
 * metrics layer at scrape time.
 */
export class CacheStats {
  /** Objects currently live (status NEW or ALIVE). */
  active = 0;
  /** conntrackd "connections created". */
  added = 0;
  /** Creations refused because the cache was at its limit (HashLimit, "no space left"). */
  refusedFull = 0;
  /** conntrackd "connections updated". */
  updated = 0;
  /** Updates for a missing/dead key (internal: turned into a creation; external: created). */
  updateMissing = 0;
  /** conntrackd "connections destroyed". */
  deleted = 0;
  /** Destroys for a key not in the cache (or already dead). */
  deleteMissing = 0;
  /** NEWs that replaced an existing object with the same key (live or dead). */
  replaced = 0;
  /** Dead objects finally removed (after their last queue reference went). */
  released = 0;
  /** Objects removed by flush. */
  flushed = 0;
  /** External entries expired (ALARM CacheTimeout). */
  expired = 0;
  /** Events ignored: self-caused changes that were applied but not queued. */
  selfCaused = 0;
}
