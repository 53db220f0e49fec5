import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { formatCoverage, textTable } from '../coverage/format.js';
import type { PrivacyEngine } from '../engine/privacy-engine.js';
import { PrivacyEngineError, ValidationError } from '../errors.js';
import type { OperationPlan } from '../operations/plan.js';
import { type PrivacyRequest, TERMINAL_STATUSES } from '../request.js';
import { type PrivacyConfig, cliActor, createEngine, findConfig, loadConfig, runsInProcess } from './config.js';
import { type ImportRow, type RejectedRow, readImportFile } from './import.js';
import { createProgress } from './progress.js';

/** Exit codes: 0 done, 1 the answer is "no" (undeclared data, failed request, rejected rows, refused call), 2 bad usage. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

interface GlobalOptions {
  config?: string;
  actor?: string;
}

const out = (line = '') => process.stdout.write(`${line}\n`);

function positiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

function isoDate(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) throw new InvalidArgumentError('must be an ISO date, e.g. 2026-01-31');
  return date;
}

/** Loads the configuration, runs the command with an engine, and always releases the engine and its DataSource. */
async function withEngine<T>(command: Command, mode: 'worker' | 'client' | 'none', fn: (engine: PrivacyEngine, config: PrivacyConfig) => Promise<T>): Promise<T> {
  const config = await peekConfig(command);
  const engine = createEngine(config, mode === 'worker' ? 'worker' : 'client');
  try {
    if (mode !== 'none') await engine.start();
    return await fn(engine, config);
  } finally {
    await engine.stop().catch(() => undefined);
    if (config.dataSource?.isInitialized) await config.dataSource.destroy().catch(() => undefined);
  }
}

function actorOf(command: Command, config: PrivacyConfig) {
  return cliActor(config, command.optsWithGlobals<GlobalOptions>().actor);
}

function requestRows(requests: PrivacyRequest[]): string {
  return textTable(
    ['ID', 'TYPE', 'STATUS', 'SUBJECT', 'PROGRESS', 'CREATED', 'DUE'],
    requests.map((r) => [r.id, r.type, r.status, `${r.subject.type} ${r.subject.id}${r.subject.tenantId ? ` (${r.subject.tenantId})` : ''}`, `${r.progress.percent}%`, r.createdAt, r.dueAt]),
  );
}

function describeRequest(r: PrivacyRequest): string {
  const lines: Array<[string, string]> = [
    ['id', r.id],
    ['type', r.type],
    ['status', r.status],
    ['subject', `${r.subject.type} ${r.subject.id}`],
    ['tenant', r.subject.tenantId ?? '-'],
    ['requested by', r.requestedBy],
    ['regulation', r.regulation],
    ['progress', `${r.progress.percent}% (${r.progress.done}/${r.progress.total} rows)`],
    ['created', r.createdAt],
    ['started', r.startedAt ?? '-'],
    ['finished', r.finishedAt ?? '-'],
    ['due', r.dueAt],
  ];
  if (r.eta) lines.push(['eta', r.eta]);
  if (r.error) lines.push(['error', `${r.error.code}: ${r.error.message}`]);
  for (const w of r.warnings) lines.push(['warning', w]);
  for (const item of r.review) lines.push(['review', `${item.item}: ${item.reason}`]);
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

function formatPlan(plan: OperationPlan): string {
  const lines = [`Plan: ${plan.operation} of ${plan.subject.type} ${plan.subject.id} (dry run, nothing written)`, ''];
  lines.push(
    textTable(
      ['#', 'ENTITY', 'CATEGORY', 'ACTION', 'READ', 'ROWS', 'SHARED', 'FIELDS'],
      plan.entities.map((e) => [
        String(e.order),
        e.entity,
        e.category,
        e.action,
        String(e.read),
        String(e.rows),
        String(e.shared),
        e.action === 'retain' ? `kept: ${e.legalBasis}` : e.action === 'redact' ? e.fields.map((f) => `${f.name}:${f.strategy}`).join(', ') : '',
      ]),
    ),
  );
  if (plan.retained.length) {
    lines.push('', 'Retained under a legal basis:');
    for (const r of plan.retained) lines.push(`  ${r.entity} (${r.category}): ${r.rows} row(s), ${r.legalBasis}`);
  }
  if (plan.totals.shared) lines.push('', `${plan.totals.shared} shared row(s) would be kept and flagged for review.`);
  for (const p of plan.providers) lines.push(`Provider ${p.name} (${p.category}): ${p.action}`);
  lines.push('', `Total: ${plan.totals.read} row(s) read, ${plan.totals.changed} changed; estimated ${plan.estimate.seconds}s at ${plan.estimate.rowsPerSecond} rows/s (${plan.estimate.basis}${plan.estimate.basis === 'measured' ? ` over ${plan.estimate.fromRequests} request(s)` : ''})`);
  return lines.join('\n');
}

/** Polls the request until it finishes, drawing progress; the exit code says whether it completed. */
async function follow(engine: PrivacyEngine, request: PrivacyRequest): Promise<number> {
  const view = createProgress(process.stdout, `${request.type} ${request.id}`, Boolean(process.stdout.isTTY));
  let current = request;
  try {
    for (;;) {
      current = await engine.getRequest(request.id, engine.system);
      view.update(current);
      if (TERMINAL_STATUSES.includes(current.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    view.stop();
  }
  if (current.status === 'completed') {
    out(`Request ${current.id} completed`);
    return 0;
  }
  out(`Request ${current.id} ${current.status}${current.error ? `: ${current.error.code}: ${current.error.message}` : ''}`);
  return EXIT_FAILED;
}

/** Submits, then either returns at once (--no-wait) or follows the request to its end. */
async function submitCommand(command: Command, submit: (engine: PrivacyEngine, config: PrivacyConfig) => Promise<PrivacyRequest>, options: { wait: boolean; output?: string }): Promise<number> {
  const config0 = await peekConfig(command);
  // With the in-process queue the request runs here, so waiting needs a worker in this process; --no-wait leaves it queued.
  const mode = options.wait && runsInProcess(config0) ? 'worker' : 'client';
  return withEngine(command, mode, async (engine, config) => {
    const request = await submit(engine, config);
    out(`Request ${request.id} ${request.status}: ${request.type} of ${request.subject.type} ${request.subject.id}`);
    if (!options.wait) {
      if (runsInProcess(config)) out('Not waiting: it runs when a worker starts (privacy-engine worker).');
      return 0;
    }
    const code = await follow(engine, request);
    if (code === 0 && options.output) {
      const download = await engine.download({ requestId: request.id, actor: actorOf(command, config) });
      await pipeline(download.stream, createWriteStream(options.output));
      out(`Wrote ${download.fileName} (${download.size} bytes) to ${options.output}`);
    }
    return code;
  });
}

let peeked: PrivacyConfig | undefined;
/** The configuration is loaded once per process; withEngine reuses it (jiti caches the module). */
async function peekConfig(command: Command): Promise<PrivacyConfig> {
  await import('reflect-metadata').catch(() => undefined); // TypeORM hosts need it before their entities load
  peeked ??= await loadConfig(findConfig(command.optsWithGlobals<GlobalOptions>().config));
  return peeked;
}

/** Import reports name rows by number; the engine's messages would repeat the row's subject id. */
const IMPORT_REASONS: Record<string, string> = {
  NOT_FOUND: 'NOT_FOUND: no such subject (in this tenant)',
  FORBIDDEN: 'FORBIDDEN: the actor may not act on this subject',
};

async function importCommand(command: Command, file: string, options: { dryRun?: boolean; json?: boolean }): Promise<number> {
  const { rows, rejected } = await readImportFile(file);
  return withEngine(command, 'client', async (engine, config) => {
    const actor = actorOf(command, config);
    // Every row is checked against the database before anything is submitted: the subject exists in its tenant, the
    // actor may act on it, and no request of the same kind is already active for it.
    for (const row of rows) {
      try {
        await engine.plan({ subjectId: row.subject, operation: row.operation, actor, tenantId: row.tenant });
        const active = (await engine.listRequests({ actor: engine.system, subjectId: row.subject, tenantId: row.tenant ?? actor.tenantId, limit: 1000 })).find(
          (r) => !TERMINAL_STATUSES.includes(r.status) && (r.type === 'export') === (row.operation === 'export'),
        );
        if (active) rejected.push({ row: row.row, reason: `a ${active.type} request (${active.id}) is already active for this subject` });
      } catch (error) {
        if (!(error instanceof PrivacyEngineError) || error instanceof ValidationError) throw error;
        rejected.push({ row: row.row, reason: IMPORT_REASONS[error.code] ?? error.code });
      }
    }
    rejected.sort((a, b) => a.row - b.row);
    if (rejected.length) {
      reportImport(options.json, rows.length + rejected.length, [], rejected);
      return EXIT_FAILED;
    }
    if (options.dryRun) {
      reportImport(options.json, rows.length, [], [], true);
      return 0;
    }
    const submitted: Array<{ row: number; request: PrivacyRequest }> = [];
    for (const row of rows as ImportRow[]) {
      const input = { subjectId: row.subject, actor, tenantId: row.tenant, regulation: row.regulation };
      try {
        const request = await (row.operation === 'export' ? engine.export(input) : row.operation === 'anonymize' ? engine.anonymize(input) : engine.delete(input));
        submitted.push({ row: row.row, request });
      } catch (error) {
        // Only a race with another submitter can get here (every row was checked); say exactly what went in.
        reportImport(options.json, rows.length, submitted, [{ row: row.row, reason: error instanceof PrivacyEngineError ? `${error.code}: ${error.message}` : 'submission failed' }]);
        return EXIT_FAILED;
      }
    }
    reportImport(options.json, rows.length, submitted, []);
    return 0;
  });
}

function reportImport(json: boolean | undefined, total: number, submitted: Array<{ row: number; request: PrivacyRequest }>, rejected: RejectedRow[], dryRun = false): void {
  if (json) {
    out(JSON.stringify({ rows: total, submitted: submitted.map((s) => ({ row: s.row, requestId: s.request.id, type: s.request.type })), rejected, dryRun }, null, 2));
    return;
  }
  if (rejected.length && submitted.length === 0) {
    out(`Rejected ${rejected.length} of ${total} row(s); nothing was submitted.`);
  } else if (rejected.length) {
    out(`Submitted ${submitted.length} of ${total} row(s) before a row was refused; the rest was not submitted.`);
  } else if (dryRun) {
    out(`All ${total} row(s) are valid; nothing was submitted (--dry-run).`);
  } else {
    out(`Submitted ${submitted.length} request(s).`);
  }
  if (submitted.length) out(textTable(['ROW', 'REQUEST', 'TYPE'], submitted.map((s) => [String(s.row), s.request.id, s.request.type])));
  if (rejected.length) out(textTable(['ROW', 'REASON'], rejected.map((r) => [String(r.row), r.reason])));
}

async function workerCommand(command: Command): Promise<number> {
  return withEngine(command, 'worker', async (engine) => {
    out(`Worker started (pid ${process.pid}); stop with SIGTERM or Ctrl-C`);
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', () => resolve('SIGTERM'));
      process.once('SIGINT', () => resolve('SIGINT'));
    });
    out(`${signal} received: finishing the current batch`);
    // A second signal means "now": leave without waiting.
    const force = () => process.exit(130);
    process.once('SIGTERM', force);
    process.once('SIGINT', force);
    clearInterval(keepAlive);
    // Running requests stop after their current batch and hand their lease back: the next worker resumes them.
    await engine.stop({ interrupt: true });
    return 0;
  }).then((code) => {
    out('Worker stopped');
    return code;
  });
}

export function buildProgram(): Command {
  const program = new Command('privacy-engine');
  program
    .description('Operate privacy-engine: check coverage, plan and run data-subject requests, run workers.')
    .option('-c, --config <file>', 'configuration file (default: privacy.config.ts, .mts, .js, .mjs or .cjs in the working directory)')
    .option('--actor <id>', 'who the CLI acts as (default: the config\'s actor, or cli:<os user> with the admin role)')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });

  program
    .command('check')
    .description('Coverage: list what is declared personal, what is declared not personal, and what looks personal but is undeclared. Exits 1 when undeclared personal data is found.')
    .option('--json', 'print the report as JSON (stable, for CI)')
    .option('--sample [rows]', 'also sample up to <rows> values per text column (default 100) to spot personal data by shape', (v) => positiveInt(v))
    .option('--allow <items...>', 'entities or Entity.column holding no personal data (added to the config\'s coverage.allow)')
    .action(async (options: { json?: boolean; sample?: number | true; allow?: string[] }, command: Command) => {
      const code = await withEngine(command, 'none', async (engine, config) => {
        const sample = options.sample === undefined ? config.coverage?.sample : options.sample === true ? true : { rows: options.sample };
        const report = await engine.coverage({ allow: [...(config.coverage?.allow ?? []), ...(options.allow ?? [])], sample });
        out(options.json ? JSON.stringify(report, null, 2) : formatCoverage(report));
        return report.complete ? 0 : EXIT_FAILED;
      });
      process.exitCode = code;
    });

  program
    .command('plan')
    .description('Dry run: what an export, anonymize or delete would read and change for one subject, in order, with an estimated duration. Writes nothing.')
    .argument('<subject>', 'the data subject\'s id')
    .addArgument(new Argument('<operation>', 'the operation to plan').choices(['export', 'anonymize', 'delete']))
    .option('--tenant <id>', 'the subject\'s tenant')
    .option('--json', 'print the plan as JSON')
    .action(async (subject: string, operation: 'export' | 'anonymize' | 'delete', options: { tenant?: string; json?: boolean }, command: Command) => {
      await withEngine(command, 'client', async (engine, config) => {
        const plan = await engine.plan({ subjectId: subject, operation, actor: actorOf(command, config), tenantId: options.tenant });
        out(options.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
      });
    });

  for (const type of ['export', 'anonymize', 'delete'] as const) {
    const descriptions = {
      export: 'Export everything held about a subject (GDPR Art. 15/20, CCPA right to know).',
      anonymize: 'Anonymize a subject: personal fields rewritten in place, originals kept encrypted for the recovery window.',
      delete: 'Delete a subject: rows hidden or removed per the data map, restorable until the recovery window ends.',
    };
    const cmd = program
      .command(type)
      .description(`${descriptions[type]} Shows a progress bar on a terminal, plain lines otherwise.`)
      .argument('<subject>', 'the data subject\'s id')
      .option('--tenant <id>', 'the subject\'s tenant')
      .addOption(new Option('--regulation <name>', 'the regulation the request is made under').choices(['gdpr', 'ccpa']).default('gdpr'))
      .option('--no-wait', 'submit and return at once, printing the request id');
    if (type === 'export') cmd.option('-o, --output <file>', 'when the export completes, write its archive to <file>');
    cmd.action(async (subject: string, options: { tenant?: string; regulation: 'gdpr' | 'ccpa'; wait: boolean; output?: string }, command: Command) => {
      if (options.output && !options.wait) throw new ValidationError('--output needs the command to wait: drop --no-wait', [{ path: 'output', message: 'needs waiting' }]);
      process.exitCode = await submitCommand(
        command,
        (engine, config) => engine[type]({ subjectId: subject, actor: actorOf(command, config), tenantId: options.tenant, regulation: options.regulation }),
        options,
      );
    });
  }

  program
    .command('status')
    .description('Show one request in detail, or, without an id, the requests queued or running.')
    .argument('[id]', 'a request id')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, options: { json?: boolean }, command: Command) => {
      await withEngine(command, 'client', async (engine, config) => {
        if (id) {
          const request = await engine.getRequest(id, actorOf(command, config));
          out(options.json ? JSON.stringify(request, null, 2) : describeRequest(request));
          return;
        }
        const active = [...(await engine.listRequests({ actor: engine.system, status: 'running' })), ...(await engine.listRequests({ actor: engine.system, status: 'queued' }))];
        out(options.json ? JSON.stringify(active, null, 2) : active.length ? requestRows(active) : 'No request is queued or running.');
      });
    });

  program
    .command('list')
    .description('List requests, newest first.')
    .option('--subject <id>', 'only this subject\'s requests')
    .option('--tenant <id>', 'only this tenant\'s requests')
    .addOption(new Option('--type <type>', 'only this type').choices(['export', 'anonymize', 'delete', 'restore', 'purge']))
    .addOption(new Option('--status <status>', 'only this status').choices(['queued', 'running', 'completed', 'failed', 'cancelled']))
    .option('--limit <n>', 'at most <n> requests (default 50)', positiveInt, 50)
    .option('--json', 'print JSON')
    .action(async (options: { subject?: string; tenant?: string; type?: PrivacyRequest['type']; status?: PrivacyRequest['status']; limit: number; json?: boolean }, command: Command) => {
      await withEngine(command, 'client', async (engine) => {
        const requests = await engine.listRequests({ actor: engine.system, subjectId: options.subject, tenantId: options.tenant, type: options.type, status: options.status, limit: options.limit });
        out(options.json ? JSON.stringify(requests, null, 2) : requests.length ? requestRows(requests) : 'No requests.');
      });
    });

  program
    .command('restore')
    .description('Put back what an anonymize or delete request changed, inside its recovery window.')
    .argument('<id>', 'the anonymize or delete request to undo')
    .option('--category <names...>', 'restore only these categories')
    .option('--no-wait', 'submit and return at once, printing the request id')
    .action(async (id: string, options: { category?: string[]; wait: boolean }, command: Command) => {
      process.exitCode = await submitCommand(command, (engine, config) => engine.restore({ requestId: id, actor: actorOf(command, config), ...(options.category ? { categories: options.category } : {}) }), options);
    });

  program
    .command('cancel')
    .description('Cancel a queued or running request: a queued one ends at once, a running one stops before its next batch (what it did stays, and can be restored).')
    .argument('<id>', 'the request to cancel')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      await withEngine(command, 'client', async (engine, config) => {
        const request = await engine.cancel({ requestId: id, actor: actorOf(command, config) });
        out(options.json ? JSON.stringify(request, null, 2) : `Request ${request.id}: ${request.status}${request.status === 'cancelled' ? '' : ' (its worker stops before its next batch)'}`);
      });
    });

  program
    .command('sweep')
    .description('Delete export archives past their expiry and queue a purge of every erasure whose recovery window has ended. Run it from a scheduler.')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      await withEngine(command, 'client', async (engine) => {
        const { archivesDeleted, purgesQueued } = await engine.sweep();
        if (options.json) out(JSON.stringify({ archivesDeleted, purgesQueued: purgesQueued.map((r) => r.id) }, null, 2));
        else out(`Deleted ${archivesDeleted} expired archive(s); queued ${purgesQueued.length} purge(s).${purgesQueued.length ? `\n${requestRows(purgesQueued)}` : ''}`);
      });
    });

  const audit = program.command('audit').description('The hash-chained audit trail.');
  audit
    .command('verify')
    .description('Check the audit trail\'s hash chain; exits 1 naming every edited, deleted, reordered or inserted entry.')
    .option('--tenant <id>', 'the tenant whose trail to check (default: the trail of hosts without tenants)')
    .option('--json', 'print JSON')
    .action(async (options: { tenant?: string; json?: boolean }, command: Command) => {
      process.exitCode = await withEngine(command, 'client', async (engine) => {
        const result = await engine.audit.verify(options.tenant === undefined ? {} : { tenantId: options.tenant });
        if (options.json) out(JSON.stringify(result, null, 2));
        else out(result.ok ? `Audit trail OK: ${result.checked} entries checked.` : `Audit trail BROKEN (${result.problems.length} problem(s), ${result.checked} entries checked):\n${result.problems.map((p) => `  ${p.kind} at #${p.seq}: ${p.message}`).join('\n')}`);
        return result.ok ? 0 : EXIT_FAILED;
      });
    });
  audit
    .command('export')
    .description('Write the audit trail (JSON or CSV) to a file or to standard output, for regulatory review.')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv']).default('json'))
    .option('--from <date>', 'entries at or after this ISO date', isoDate)
    .option('--to <date>', 'entries before this ISO date', isoDate)
    .option('--tenant <id>', 'the tenant whose trail to export')
    .option('--output <file>', 'write to this file instead of standard output')
    .action(async (options: { format: 'json' | 'csv'; from?: Date; to?: Date; tenant?: string; output?: string }, command: Command) => {
      await withEngine(command, 'client', async (engine) => {
        const stream = engine.audit.export({ format: options.format, ...(options.from ? { from: options.from } : {}), ...(options.to ? { to: options.to } : {}), ...(options.tenant === undefined ? {} : { tenantId: options.tenant }) });
        await pipeline(stream, options.output ? createWriteStream(options.output) : process.stdout);
      });
    });

  program
    .command('worker')
    .description('Run the queue workers until SIGTERM or SIGINT; then stop taking work, end each running request after its current batch (the next worker resumes it from there), and exit 0. With the in-process queue it runs the requests queued when it starts.')
    .action(async (_options: unknown, command: Command) => {
      process.exitCode = await workerCommand(command);
    });

  program
    .command('import')
    .description('Submit requests in bulk from a CSV (header: subject, operation, and optionally tenant, regulation). Every row is validated first; if any is rejected, nothing is submitted and the rejected rows are listed.')
    .argument('<file.csv>', 'the CSV file')
    .option('--dry-run', 'validate every row, submit nothing')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, options: { dryRun?: boolean; json?: boolean }, command: Command) => {
      process.exitCode = await importCommand(command, file, options);
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; every other commander error is a usage mistake it has already printed.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version' ? 0 : EXIT_USAGE;
    }
    if (error instanceof ValidationError) {
      process.stderr.write(`error: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof PrivacyEngineError) {
      process.stderr.write(`error [${error.code}]: ${error.message}\n`);
      return EXIT_FAILED;
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILED;
  }
}
