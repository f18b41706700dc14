/** In-memory building blocks shared by the stores. The only door into `lib/memory/`. */
export { ExpiringMap } from './expiring-map';
export { StringKeyTable } from './string-table';
export { HexDigestSet } from './digest-set';
export { LocalRecordCache } from './local-record-cache';
export { deepFreeze } from './deep-freeze';
