export * from './exp-filter';
export * from './flow-filter';
