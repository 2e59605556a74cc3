export * from './envelope';
export * from './keyfile';
