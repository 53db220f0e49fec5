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
}
