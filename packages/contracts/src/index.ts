export * from './common';
export * from './topics';
export * from './envelope';
export * from './events/index';
export * from './http/catalog';
