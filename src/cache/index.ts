export * from './cache';
export * from './merge';
export * from './object';
export * from './stats';
export * from './hash-index';
