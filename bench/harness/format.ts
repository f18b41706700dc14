/** Number formatting for the printed tables. */
export const fmt = {
  int: (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a'),
  ms: (n: number): string => (Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')) : 'n/a'),
  ratio: (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a'),
  pct: (n: number): string => (Number.isFinite(n) ? `${n >= 0 ? '+' : ''}${(n * 100).toFixed(1)} %` : 'n/a'),
  mib: (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`,
  per: (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : 'n/a'),
};
