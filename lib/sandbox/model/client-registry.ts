import { randomToken, safeEqual, sha256 } from '../crypto';
import { SandboxError } from '../errors';
import type { SandboxClientInput, SandboxCredentials } from '../types';

export interface ClientRecord {
  clientID: string;
  name: string;
  redirectUris: readonly string[];
  secretHash: string;
}

/** Registered OAuth clients (confidential: each has a secret). */
export class ClientRegistry {
  readonly #clients = new Map<string, ClientRecord>();

  register(input: SandboxClientInput): SandboxCredentials {
    if (!input || !Array.isArray(input.redirectUris) || input.redirectUris.length === 0) {
      throw new SandboxError('invalid_client_metadata', 'registerClient needs redirectUris: at least one exact callback URL');
    }
    input.redirectUris.forEach(checkRedirectUri);
    const clientID = input.clientID ?? randomToken(24);
    const clientSecret = input.clientSecret ?? randomToken(32);
    if (typeof clientID !== 'string' || clientID.length === 0 || typeof clientSecret !== 'string' || clientSecret.length === 0) {
      throw new SandboxError('invalid_client_metadata', 'clientID and clientSecret must be non-empty strings');
    }
    if (this.#clients.has(clientID)) {
      throw new SandboxError('invalid_client_metadata', `A client with ID ${JSON.stringify(clientID)} is already registered`);
    }
    this.#clients.set(clientID, {
      clientID,
      name: input.name ?? 'Sandbox app',
      redirectUris: [...input.redirectUris],
      secretHash: sha256(clientSecret),
    });
    return { clientID, clientSecret };
  }

  get(clientID: string): ClientRecord | undefined {
    return this.#clients.get(clientID);
  }

  /** The client when the secret matches, compared in constant time. */
  authenticate(clientID: string, clientSecret: string): ClientRecord | undefined {
    const client = this.#clients.get(clientID);
    // Compare even for unknown clients so that timing does not reveal which IDs exist.
    const matches = safeEqual(sha256(clientSecret), client?.secretHash ?? '');
    return client && matches ? client : undefined;
  }
}

/**
 * Registration rules from the provider docs: HTTPS except on localhost, absolute, no fragment.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2
 */
export function checkRedirectUri(uri: string): void {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new SandboxError('invalid_redirect_uri', `Redirect URI ${JSON.stringify(uri)} is not an absolute URL`);
  }
  if (uri.includes('#')) {
    throw new SandboxError('invalid_redirect_uri', `Redirect URI ${JSON.stringify(uri)} must not contain a fragment (RFC 6749 section 3.1.2)`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new SandboxError('invalid_redirect_uri', `Redirect URI ${JSON.stringify(uri)} must use https (http is allowed for localhost only)`);
  }
}

function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}
