export * from './errors';
export * from './scopes';
export * from './environments';
