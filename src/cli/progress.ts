import cliProgress from 'cli-progress';
import type { PrivacyRequest } from '../request.js';

export interface ProgressView {
  update(request: PrivacyRequest): void;
  stop(): void;
}

function seconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Rows per second since the first observation, and the time left at that rate. */
function meter() {
  let first: { at: number; done: number } | undefined;
  return (done: number, total: number) => {
    const now = Date.now();
    first ??= { at: now, done };
    const elapsed = (now - first.at) / 1000;
    const rate = elapsed > 0 ? (done - first.done) / elapsed : 0;
    return { rate: Math.round(rate), eta: rate > 0 ? seconds((total - done) / rate) : '?' };
  };
}

/**
 * A live bar (percentage, rows/s, ETA) on a terminal; plain lines otherwise (CI logs, pipes), one per status change
 * and at most one a second while running.
 */
export function createProgress(stream: NodeJS.WriteStream, label: string, tty: boolean): ProgressView {
  const measure = meter();
  if (tty) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {rate} rows/s | ETA {etaText} | {value}/{total} rows | {status}`, stream, hideCursor: true, clearOnComplete: false, noTTYOutput: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(request) {
        const { done, total } = request.progress;
        const { rate, eta } = measure(done, total);
        const payload = { rate, etaText: request.status === 'completed' ? '0s' : eta, status: request.status };
        if (!started) {
          bar.start(Math.max(total, 1), done, payload);
          started = true;
        }
        bar.setTotal(Math.max(total, 1));
        bar.update(request.status === 'completed' ? Math.max(total, 1) : done, payload);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let lastLine = '';
  let lastAt = 0;
  let lastStatus = '';
  return {
    update(request) {
      const { done, total, percent } = request.progress;
      const { rate, eta } = measure(done, total);
      const line = `${label}: ${request.status} ${percent}% (${done}/${total} rows, ${rate} rows/s, ETA ${request.status === 'completed' ? '0s' : eta})`;
      const now = Date.now();
      if (request.status !== lastStatus || (line !== lastLine && now - lastAt >= 1000)) {
        stream.write(`${line}\n`);
        lastLine = line;
        lastAt = now;
        lastStatus = request.status;
      }
    },
    stop() {},
  };
}
