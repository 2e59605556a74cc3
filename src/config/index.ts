/** Configuration (L5): conntrackd.conf reader, native schema, loader. */
export * from './conntrackd-conf';
export * from './errors';
export * from './load';
export * from './protocols';
export * from './schema';
export * from './types';
