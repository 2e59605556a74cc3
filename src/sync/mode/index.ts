export * from './alarm';
export * from './base';
export * from './ftfw';
export * from './notrack';
export * from './refresh-heap';
export * from './stats';
export * from './tracker';
export * from './types';
