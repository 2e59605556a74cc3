/** UNIX control socket (spec §8): protocol table, server, client, conntrackd text layouts. */
export * from './client';
export * from './protocol';
export * from './server';
export * from './stats-text';
