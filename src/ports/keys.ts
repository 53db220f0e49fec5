/**
 * Key material for the vault (wrapping per-request data keys), export encryption and link signing.
 * The default adapter derives every key from one configured secret; a host may back this with a KMS.
 */
export interface KeysPort {
  readonly name: string;
  /** Encrypts a per-request data key; the result is stored beside the vault entries. */
  wrapKey(dataKey: Buffer, context: string): Promise<Buffer>;
  /** Reverses wrapKey; rejects when the wrapped key was not made for `context`. */
  unwrapKey(wrapped: Buffer, context: string): Promise<Buffer>;
  /** A 32-byte key for a named purpose (`'hmac-redaction'`, `'link-signing'`), stable across restarts. */
  deriveKey(purpose: string): Promise<Buffer>;
  /**
   * Optional, for adapters that keep per-context key material themselves (a KMS key per request): destroy
   * what was made for `context`, so the wrapped key stored beside the ciphertext (in the live database or a
   * backup) can never be unwrapped again. Called by crypto-shredding (purge, full restore) before the wrapped
   * key is deleted, once per shred and again on a retried one: it must be idempotent, and resolve when it holds
   * nothing for `context`. A rejection fails the shred, leaving the wrapped key in place for a retry.
   */
  destroyKey?(context: string): Promise<void>;
}
