import type { SandboxWalletCurrency } from '../types';

/**
 * Guesses a wallet's currency from its address format, for a wallet typed at consent. The
 * provider docs do not say how it decides; this only has to be plausible, and falls back to `eth`.
 */
export function guessWalletCurrency(address: string): SandboxWalletCurrency {
  if (/^0x[0-9a-fA-F]{40}$/.test(address)) return 'eth';
  if (/^0x[0-9a-fA-F]{64}$/.test(address)) return 'sui';
  if (/^(bc1|tb1)[02-9ac-hj-np-z]{11,71}$/i.test(address) || /^[13][1-9A-HJ-NP-Za-km-z]{25,33}$/.test(address)) return 'btc';
  if (/^(addr1|addr_test1)[0-9a-z]{20,}$/.test(address) || /^(Ae2|DdzFF)[1-9A-HJ-NP-Za-km-z]{20,}$/.test(address)) return 'ada';
  if (/^[A-Z2-7]{58}$/.test(address)) return 'algo';
  if (/^r[1-9A-HJ-NP-Za-km-z]{24,34}$/.test(address)) return 'xrp';
  // SS58 addresses are 47-48 base58 characters; Karura's prefix makes them start with o-t.
  if (/^[o-t][1-9A-HJ-NP-Za-km-z]{46,47}$/.test(address)) return 'kar';
  if (/^[1-9A-HJ-NP-Za-km-z]{47,48}$/.test(address)) return 'substrate';
  if (/^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(address)) return 'sol';
  return 'eth';
}

export const WALLET_CURRENCIES: readonly SandboxWalletCurrency[] = ['ada', 'algo', 'btc', 'eth', 'kar', 'sol', 'substrate', 'sui', 'xrp'];
