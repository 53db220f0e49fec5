// Public API of privacy-engine. Adapters with heavy SDKs live under subpaths (privacy-engine/adapters/<name>).
export { PrivacyEngine, type SystemAccess, type ExportInput, type ErasureInput, type RestoreInput, type PurgeInput, type RetryInput, type DownloadResult, type DownloadLink, type EngineAudit } from './engine/privacy-engine.js';
export type { CancelInput, ExtendDeadlineInput } from './engine/schemas.js';
export type { EngineEventMap, EngineEventName, EngineEventListener } from './engine/events.js';
export type { ErasureReceipt, ErasureOperation } from './operations/erase.js';
export type { VerificationResult } from './operations/verify.js';
export type { RestoreOutcome } from './operations/restore.js';
export type { PurgeOutcome } from './operations/purge.js';
export type { PrivacyEngineOptions } from './engine/options.js';
export type { CoverageInput, CoverageReport, CoverageFinding, CoverageEntity, FindingKind, ColumnStatus } from './coverage/coverage.js';
export type { PersonalKind } from './coverage/heuristics.js';
export type { OperationPlan, PlanEntity, PlanInput } from './operations/plan.js';
export { type Actor, type Action, type Authorize, type AuthorizationContext, defaultAuthorize, ADMIN_ROLE } from './engine/policy.js';
export type { PrivacyRequest, RequestType, RequestStatus, Regulation, ReviewItem, ExportOutcome, ExportArtifact, DeadlineExtension } from './request.js';
export { WARNING_MESSAGES } from './request.js';
export type { Logger } from './engine/logger.js';

export * from './decorators/index.js';
export type {
  CategoryDefinition,
  CategoryFacts,
  DataCategoryProvider as DataCategoryProviderInterface,
  DataSubjectOptions,
  EraseAction,
  LinkSpec,
  PersonalDataOptions,
  PolymorphicLink,
  ProviderContext,
  ProviderSubject,
  ProviderVault,
  RedactContext,
  RedactFunction,
  RedactOptions,
  RedactStrategyName,
  RetentionRule,
} from './metadata/declarations.js';
export type { DataMapJson, DataMapWarning } from './metadata/data-map.js';
export type { IndexSuggestion, IndexSuggestions } from './db/index-suggestions.js';
export type { TenantOf } from './metadata/tenant.js';

export {
  PrivacyEngineError,
  ValidationError,
  NotFoundError,
  ForbiddenError,
  ConflictError,
  LinkExpiredError,
  MetadataError,
  AdapterError,
  WindowClosedError,
  CancelledError,
  LeaseLostError,
  OperationError,
  type OperationStep,
  IntegrityError,
  type ErrorCode,
  type ValidationIssue,
} from './errors.js';

export type { ClockPort, KeysPort, QueuePort, QueueJob, QueueHandler, StoragePort, StoredObjectInfo } from './ports/index.js';
export type { AuditPort, AuditEntry, AuditRecord, AuditHead, AuditSubject } from './ports/audit.js';
export { createInProcessQueue, type InProcessQueueOptions } from './adapters/in-process-queue.js';
export type { NotifierPort, NotificationMessage, NotificationKind, QueueJobContext } from './ports/index.js';
export { createLogNotifier, type LogNotifierOptions } from './adapters/log-notifier.js';
export { createLocalStorage, type LocalStorageOptions } from './adapters/local-storage.js';
export { createMemoryStorage } from './adapters/memory-storage.js';
export { createSecretKeys, type SecretKeysOptions } from './adapters/secret-keys.js';
export { createMemoryAudit, type MemoryAudit } from './adapters/memory-audit.js';
export { createTypeormAudit, type TypeormAudit, type TypeormAuditOptions } from './adapters/typeorm-audit.js';

// Building blocks for encrypted artifacts, download links and the audit trail (not yet used by PrivacyEngine).
export { createEncryptStream, createDecryptStream, STREAM_FORMAT_VERSION, type EncryptStreamOptions, type DecryptStreamOptions } from './crypto/stream-aead.js';
export { encryptForSubject, type AgeDeliveryTarget } from './crypto/age-delivery.js';
export { signLinkToken, verifyLinkToken, type LinkClaims } from './crypto/link-token.js';
export { createAuditTrail, type AuditTrail, type AuditTrailOptions, type AuditInput, type PruneOutcome } from './audit/audit-trail.js';
export { keyedSubjectHash } from './audit/chain.js';
export type { AuditVerification, AuditProblem, AuditProblemKind } from './audit/verify.js';
