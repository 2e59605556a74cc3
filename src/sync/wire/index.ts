/** Public API of the conntrackd v1 wire codec (spec §1-§3). */
export * from './constants';
export * from './ct';
export { decodeExpBody, encodeExp, expMessageLength } from './exp';
export * from './errors';
export * from './header';
export * from './message';
export { attrSpace } from './options';
export * from './packer';
export * from './stats';
export * from './walk';
export * from './format';
