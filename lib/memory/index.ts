/** In-memory building blocks shared by the memory stores. The only door into `lib/memory/`. */
export { ExpiringMap } from './expiring-map';
