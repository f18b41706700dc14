import { ErrorCode } from '../errors';
import { FractalError } from '../errors';

/**
 * Longest address we forward. Cardano Byron addresses are the longest documented currency's
 * (around 120 characters); 256 leaves room without letting a query string carry a payload.
 */
export const MAX_WALLET_LENGTH = 256;

/** A wallet address given for `ensure_wallet` was rejected before it reached the provider. */
export class WalletError extends FractalError {
  constructor(message: string) {
    super(ErrorCode.INVALID_WALLET, message);
  }
}

/**
 * Checks an `ensure_wallet` value: printable ASCII without spaces, 1 to 256 characters. The format
 * per currency is the provider's business (the user may ignore the suggestion anyway); we only
 * keep garbage and control characters out of the authorization URL.
 *
 * @throws WalletError
 */
export function validateWallet(value: unknown): string {
  if (typeof value !== 'string') throw new WalletError('ensureWallet must be a string');
  const wallet = value.trim();
  if (wallet.length === 0) throw new WalletError('ensureWallet is empty');
  if (wallet.length > MAX_WALLET_LENGTH) throw new WalletError(`ensureWallet is longer than ${MAX_WALLET_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(wallet)) throw new WalletError('ensureWallet must be printable ASCII without spaces');
  return wallet;
}
