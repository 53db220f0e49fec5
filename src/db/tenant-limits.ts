import type { DataSource } from 'typeorm';
import { type SqlExecutor, sqlOf } from './dialect.js';
import { inTransaction } from './transaction.js';

/** The row of requests without a tenant: real tenant ids are never empty (keyStringSchema). */
const NO_TENANT = '';

/**
 * Per-tenant rate limits, held in the database so they bind every worker of every process sharing it:
 * - `maxRunning`: a claim runs inside a transaction that first locks the tenant's row, then counts the tenant's
 *   requests held under a live lease; two workers claiming for one tenant queue on that lock, so neither can count
 *   the other's claim out.
 * - `rowsPerSecond`: a token bucket per tenant (one second of burst). A worker takes the rows its last batch
 *   processed, going into debt if need be, and waits until the debt is paid: over any span a tenant processes at
 *   most `rate · span + burst + one batch` rows, however many workers share it.
 */
export class TenantLimitStore {
  private readonly ensured = new Set<string>();
  private readonly table: string;
  private readonly requests: string;

  constructor(
    private readonly dataSource: DataSource,
    tablePath: string,
    requestsTablePath: string,
  ) {
    const { table } = sqlOf(dataSource);
    this.table = table(tablePath);
    this.requests = table(requestsTablePath);
  }

  /**
   * Runs `claim` when fewer than `maxRunning` requests of the tenant are held under a live lease (other than this
   * one); 'limited' when the tenant is at its limit. `claim` gets the transaction and the wall clock read once the
   * tenant's row is locked, so a claim's start is never earlier than the end of the claim it waited for.
   */
  async claimWithin<T>(requestId: string, tenantId: string | null, maxRunning: number, claim: (tx: SqlExecutor, wallNow: number) => Promise<T>): Promise<T | 'limited'> {
    const key = tenantId ?? NO_TENANT;
    await this.ensureRow(key);
    return inTransaction(this.dataSource, async (tx) => {
      await this.lock(tx, key);
      const wallNow = Date.now();
      const { q, params } = sqlOf(this.dataSource);
      const p = params();
      const tenant = tenantId === null ? `${q('tenant_id')} IS NULL` : `${q('tenant_id')} = ${p.add(tenantId)}`;
      const [row] = await tx.query(
        `SELECT COUNT(*) AS ${q('n')} FROM ${this.requests} WHERE ${tenant} AND ${q('id')} <> ${p.add(requestId)}
          AND (${q('status')} = 'running' OR (${q('status')} = 'cancelled' AND ${q('finished_at')} IS NULL))
          AND ${q('lease_owner')} IS NOT NULL AND ${q('lease_expires_at')} >= ${p.add(wallNow)}`,
        p.values,
      );
      if (Number(row.n) >= maxRunning) return 'limited' as const;
      return claim(tx, wallNow);
    });
  }

  /**
   * Takes `rows` tokens from the tenant's bucket (`rate` rows per second, one second of burst) and returns how many
   * milliseconds the caller must wait before its next batch (0 when the bucket was not in debt).
   */
  async take(tenantId: string | null, rows: number, rate: number): Promise<number> {
    const key = tenantId ?? NO_TENANT;
    await this.ensureRow(key);
    return inTransaction(this.dataSource, async (tx) => {
      await this.lock(tx, key);
      const { q, params } = sqlOf(this.dataSource);
      const find = params();
      const [row] = await tx.query(`SELECT ${q('tokens_milli')} AS ${q('t')}, ${q('refilled_at')} AS ${q('at')} FROM ${this.table} WHERE ${q('tenant_key')} = ${find.add(key)}`, find.values);
      const now = Date.now();
      const burst = Math.round(rate * 1000);
      // milli-tokens: rate tokens a second is `rate` milli-tokens a millisecond.
      const refilled = Math.min(burst, Number(row.t) + Math.max(0, now - Number(row.at)) * rate);
      const left = Math.floor(refilled - rows * 1000);
      const p = params();
      await tx.query(`UPDATE ${this.table} SET ${q('tokens_milli')} = ${p.add(left)}, ${q('refilled_at')} = ${p.add(now)} WHERE ${q('tenant_key')} = ${p.add(key)}`, p.values);
      return left < 0 ? Math.ceil(-left / rate) : 0;
    });
  }

  /** The first statement of the transaction writes the tenant's row: a row lock (a write lock on SQLite) until it ends. */
  private async lock(tx: SqlExecutor, key: string): Promise<void> {
    const { q, params } = sqlOf(this.dataSource);
    const p = params();
    await tx.query(`UPDATE ${this.table} SET ${q('refilled_at')} = ${q('refilled_at')} WHERE ${q('tenant_key')} = ${p.add(key)}`, p.values);
  }

  /** A full bucket for a tenant seen for the first time (a second process inserting it at the same moment is fine). */
  private async ensureRow(key: string): Promise<void> {
    if (this.ensured.has(key)) return;
    const { q, params } = sqlOf(this.dataSource);
    const find = params();
    const rows = await this.dataSource.query(`SELECT ${q('tenant_key')} FROM ${this.table} WHERE ${q('tenant_key')} = ${find.add(key)}`, find.values);
    if (!rows.length) {
      const p = params();
      try {
        // refilled_at 0: the first take refills it to a full bucket.
        await this.dataSource.query(`INSERT INTO ${this.table} (${q('tenant_key')}, ${q('tokens_milli')}, ${q('refilled_at')}) VALUES (${p.add(key)}, 0, 0)`, p.values);
      } catch (error) {
        const again = params();
        if (!(await this.dataSource.query(`SELECT ${q('tenant_key')} FROM ${this.table} WHERE ${q('tenant_key')} = ${again.add(key)}`, again.values)).length) throw error;
      }
    }
    this.ensured.add(key);
  }
}
