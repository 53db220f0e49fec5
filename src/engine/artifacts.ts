import { type Readable, type Transform, pipeline } from 'node:stream';
import { createDecryptStream, createEncryptStream } from '../crypto/stream-aead.js';
import { signLinkToken, verifyLinkToken } from '../crypto/link-token.js';
import { ConflictError, ForbiddenError, LinkExpiredError, NotFoundError, PrivacyEngineError } from '../errors.js';
import type { RequestStore, StoredRequest } from '../db/request-store.js';
import type { ClockPort } from '../ports/clock.js';
import type { KeysPort } from '../ports/keys.js';
import type { StoragePort } from '../ports/storage.js';
import type { AuditLog } from './audit-log.js';

/** An export's archive as the request row keeps it (inside `outcome.artifact`). */
export interface StoredArtifact {
  key: string;
  fileName: string;
  /** Size of the ZIP (plaintext); `storedSize` is what the storage holds (the encrypted file). */
  size: number;
  storedSize?: number;
  expiresAt: string;
  encrypted?: boolean;
  downloadedAt?: string;
  downloadedBy?: string;
  deletedAt?: string;
  deletedReason?: 'expired' | 'erasure';
}

export interface DownloadResult {
  stream: Readable;
  fileName: string;
  contentType: 'application/zip';
  size: number;
}

/** Binds an archive's wrapped data key to its request: a file copied under another request's key does not open. */
export function archiveContext(requestId: string): string {
  return `export:${requestId}`;
}

export function encryptArchive(keys: KeysPort, requestId: string): Transform {
  return createEncryptStream({ keys, context: archiveContext(requestId) });
}

export function artifactOf(request: StoredRequest): StoredArtifact | undefined {
  const artifact = (request.body.outcome as { artifact?: StoredArtifact } | undefined)?.artifact;
  return artifact && typeof artifact.key === 'string' ? artifact : undefined;
}

/** Why a download was refused, as the audit trail records it (never a value). */
type RefusalReason = 'invalid-token' | 'expired' | 'not-authorized' | 'wrong-tenant' | 'wrong-artifact' | 'not-ready' | 'archive-erased' | 'archive-expired' | 'missing';

export interface ArtifactDeps {
  store: RequestStore;
  storage: StoragePort;
  keys: KeysPort;
  clock: ClockPort;
  audit: AuditLog;
  linkKey: Buffer;
  downloadExpiryMs: number;
  linkBaseUrl?: string;
  systemActorId: string;
}

/**
 * Everything about stored export archives once written: serving them (decrypted) to authorized actors, signed
 * download links, and deleting them at expiry or when their subject is erased. Every outcome goes to the audit trail.
 */
export class Artifacts {
  constructor(private readonly deps: ArtifactDeps) {}

  private now(): number {
    return this.deps.clock.now().getTime();
  }

  /**
   * A link for a ready archive. It may outlive the archive (a link made on day 5 of 7): used after the archive
   * expired or was deleted, it is refused (ForbiddenError), since the file it names is gone.
   */
  async createLink(request: StoredRequest, actorId: string, expiresInSeconds?: number): Promise<{ token: string; url?: string; expiresAt: string }> {
    const artifact = this.readyArtifact(request);
    const expiresAt = new Date(this.now() + (expiresInSeconds !== undefined ? expiresInSeconds * 1000 : this.deps.downloadExpiryMs));
    const token = signLinkToken({ requestId: request.id, tenantId: request.tenantId, artifact: artifact.key, expiresAt }, this.deps.linkKey);
    await this.deps.audit.record('download.link-created', request, actorId, { expiresAt: expiresAt.toISOString() });
    const base = this.deps.linkBaseUrl;
    const url = base ? `${base}${base.includes('?') ? '&' : '?'}token=${token}` : undefined;
    return { token, ...(url ? { url } : {}), expiresAt: expiresAt.toISOString() };
  }

  /**
   * Checks a token's signature and expiry and returns the request it names; a token that fails is audited as
   * refused (under its tenant when its claims are genuine, else under the '' chain).
   */
  async requestOfToken(token: string, actorId: string): Promise<{ request: StoredRequest; tenantId: string | null; artifact: string }> {
    let claims;
    try {
      claims = verifyLinkToken(token, this.deps.linkKey, this.deps.clock.now());
    } catch (error) {
      const requestId = error instanceof LinkExpiredError ? (error.details?.requestId as string | undefined) : undefined;
      const request = requestId ? await this.deps.store.get(requestId) : null;
      if (request) await this.refuse(request, actorId, 'expired');
      else await this.deps.audit.trail.record({ tenantId: '', actorId, action: 'download.refused', details: { reason: error instanceof LinkExpiredError ? 'expired' : 'invalid-token' } }).catch(() => undefined);
      throw error;
    }
    const request = await this.deps.store.get(claims.requestId);
    if (!request) throw new ForbiddenError('This download link is not valid');
    return { request, tenantId: claims.tenantId, artifact: claims.artifact };
  }

  /** Opens the archive for an actor already authorized; refusals are audited and thrown. */
  async serve(request: StoredRequest, actorId: string, via: 'download' | 'link', expect?: { tenantId: string | null; artifact: string }): Promise<DownloadResult> {
    if (expect && expect.tenantId !== request.tenantId) throw await this.refuse(request, actorId, 'wrong-tenant');
    const artifact = artifactOf(request);
    if (request.type !== 'export' || request.status !== 'completed' || !artifact) {
      if (via === 'link') throw await this.refuse(request, actorId, 'not-ready');
      await this.refuse(request, actorId, 'not-ready');
      throw new ConflictError(`Export ${request.id} is not ready (status: ${request.status})`, { status: request.status });
    }
    if (expect && expect.artifact !== artifact.key) throw await this.refuse(request, actorId, 'wrong-artifact');
    if (artifact.deletedReason === 'erasure') throw await this.refuse(request, actorId, 'archive-erased');
    if (artifact.deletedAt || this.now() >= Date.parse(artifact.expiresAt)) {
      // A link replayed after its archive expired is refused outright; download() tells the admin to export again.
      if (via === 'link') throw await this.refuse(request, actorId, 'archive-expired');
      await this.refuse(request, actorId, 'expired');
      throw new LinkExpiredError();
    }
    let raw: Readable;
    try {
      raw = await this.deps.storage.get(artifact.key);
    } catch (error) {
      if (error instanceof NotFoundError) throw await this.refuse(request, actorId, 'missing');
      throw error;
    }
    // Written before the first byte leaves: an unrecorded download must not happen.
    try {
      await this.deps.audit.record('download.served', request, actorId, { via, size: artifact.size });
    } catch (error) {
      raw.destroy();
      throw error;
    }
    if (!artifact.downloadedAt) {
      await this.patch(request, { downloadedAt: new Date(this.now()).toISOString(), downloadedBy: actorId });
    }
    const stream = artifact.encrypted === false ? raw : pipeline(raw, createDecryptStream({ keys: this.deps.keys, context: archiveContext(request.id) }), () => undefined);
    return { stream, fileName: artifact.fileName, contentType: 'application/zip', size: artifact.size };
  }

  /** Audits a refusal and returns the error to throw; a refusal that cannot be audited still refuses. */
  async refuse(request: StoredRequest, actorId: string, reason: RefusalReason): Promise<PrivacyEngineError> {
    await this.deps.audit.tryRecord('download.refused', request, actorId, { reason });
    return new ForbiddenError('This download link is not valid', { reason });
  }

  /** Deletes every archive whose expiry has passed; returns how many went. */
  async sweep(): Promise<number> {
    const now = this.now();
    let deleted = 0;
    for await (const request of this.deps.store.iterate({ type: 'export', status: 'completed' })) {
      const artifact = artifactOf(request);
      if (!artifact || artifact.deletedAt || now < Date.parse(artifact.expiresAt)) continue;
      await this.remove(request, artifact, 'expired', this.deps.systemActorId);
      deleted++;
    }
    return deleted;
  }

  /** Deletes the stored archives of the subject an erasure (or purge) acted on: their contents would defeat it. */
  async removeSubjectArchives(erasure: StoredRequest, actorId: string): Promise<number> {
    let deleted = 0;
    for await (const request of this.deps.store.iterate({ type: 'export', status: 'completed' })) {
      if (request.subjectType !== erasure.subjectType || request.subjectId !== erasure.subjectId || request.tenantId !== erasure.tenantId) continue;
      const artifact = artifactOf(request);
      if (!artifact || artifact.deletedAt) continue;
      await this.remove(request, artifact, 'erasure', actorId, erasure.id);
      deleted++;
    }
    return deleted;
  }

  /**
   * An export that ran beside an erasure of its subject may store its archive after the erasure deleted the
   * subject's archives: such an archive is deleted as soon as the export completes.
   */
  async removeIfErasedMeanwhile(exportRequest: StoredRequest): Promise<boolean> {
    const artifact = artifactOf(exportRequest);
    if (!artifact || artifact.deletedAt) return false;
    const since = exportRequest.startedAt ?? exportRequest.createdAt;
    const { store } = this.deps;
    for (const type of ['anonymize', 'delete', 'purge'] as const) {
      const erasures = await store.list({ subjectType: exportRequest.subjectType, subjectId: exportRequest.subjectId, tenantId: exportRequest.tenantId, type, limit: 1000 });
      const overlapping = erasures.find(
        (e) => e.tenantId === exportRequest.tenantId && e.startedAt !== null && (e.status === 'running' || (e.status === 'completed' && (e.finishedAt ?? 0) >= since)),
      );
      if (overlapping) {
        await this.remove(exportRequest, artifact, 'erasure', overlapping.requestedBy, overlapping.id);
        return true;
      }
    }
    return false;
  }

  private async remove(request: StoredRequest, artifact: StoredArtifact, reason: 'expired' | 'erasure', actorId: string, byRequestId?: string): Promise<void> {
    await this.deps.storage.delete(artifact.key);
    await this.patch(request, { deletedAt: new Date(this.now()).toISOString(), deletedReason: reason });
    await this.deps.audit.tryRecord(reason === 'expired' ? 'artifact.expired' : 'artifact.deleted', request, actorId, { reason, ...(byRequestId ? { erasureRequestId: byRequestId } : {}) });
  }

  private readyArtifact(request: StoredRequest): StoredArtifact {
    const artifact = artifactOf(request);
    if (request.type !== 'export' || request.status !== 'completed' || !artifact) {
      throw new ConflictError(`Export ${request.id} is not ready (status: ${request.status})`, { status: request.status });
    }
    if (artifact.deletedAt || this.now() >= Date.parse(artifact.expiresAt)) throw new LinkExpiredError();
    return artifact;
  }

  private async patch(request: StoredRequest, changes: Partial<StoredArtifact>): Promise<void> {
    const latest = (await this.deps.store.get(request.id)) ?? request;
    const outcome = { ...(latest.body.outcome ?? {}), artifact: { ...artifactOf(latest), ...changes } };
    await this.deps.store.update(request.id, { body: { outcome } }, this.now());
  }
}
