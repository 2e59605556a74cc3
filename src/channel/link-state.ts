/**
 * Interface link state from sysfs. conntrackd listens to rtnetlink for this (spec §1.1); polling
 * two tiny sysfs files every ~200 ms per link is cheap and needs no extra netlink socket.
 */
import * as fs from 'node:fs';

export type LinkStateReader = (ifname: string) => boolean;

/**
 * Up = operstate "up" (or "unknown", which drivers without carrier reporting use, e.g. lo or
 * tun) and carrier 1. Reading carrier fails with EINVAL while the interface is admin-down.
 */
export function readLinkUp(ifname: string, sysRoot = '/sys/class/net'): boolean {
  try {
    const oper = fs.readFileSync(`${sysRoot}/${ifname}/operstate`, 'utf8').trim();
    if (oper !== 'up' && oper !== 'unknown') return false;
    const carrier = fs.readFileSync(`${sysRoot}/${ifname}/carrier`, 'utf8').trim();
    return carrier === '1';
  } catch {
    return false; // vanished or admin-down
  }
}
