/**
 * Carries out a reconciler plan through three small edges (unit files, systemd, images).
 * Each edge names only what is called, so a recording fake checks the order of calls.
 * A failure is recorded and the rest goes on: one container that cannot start must not
 * keep the others from running; a container whose image is missing is not started.
 */
import type { Action, Plan } from './reconciler.js';

/** Unit files in the supervisor's unit directory. */
export interface UnitFiles {
  write(unit: string, text: string): Promise<void>;
  remove(unit: string): Promise<void>;
}

/** The systemd calls the supervisor makes; each start/stop/restart waits for its job and returns the job result. */
export interface UnitControl {
  daemonReload(): Promise<void>;
  start(unit: string): Promise<string>;
  restart(unit: string): Promise<string>;
  stop(unit: string): Promise<string>;
  /** Clears a failed state and systemd's start-limit counter (a changed spec gets a fresh count). */
  resetFailed(unit: string): Promise<void>;
}

/** Makes an image present: already there, loaded from an archive, or pulled. */
export interface ImageSource {
  ensure(image: string): Promise<'present' | 'loaded' | 'pulled'>;
}

export interface ActionOutcome {
  action: Action;
  ok: boolean;
  /** The job result, how an image came, or the error message. */
  detail: string;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs the plan's actions in order; starts and restarts are queued together so systemd orders them by After=. */
export async function executePlan(plan: Plan, edges: { files: UnitFiles; systemd: UnitControl; images: ImageSource }): Promise<ActionOutcome[]> {
  const outcomes: ActionOutcome[] = [];
  const missingImages = new Set<string>();
  const jobs: Action[] = [];
  const attempt = async (action: Action, run: () => Promise<string>) => {
    try {
      const detail = await run();
      outcomes.push({ action, ok: detail === 'done' || !['failed', 'timeout', 'dependency', 'canceled'].includes(detail), detail });
    } catch (error) {
      outcomes.push({ action, ok: false, detail: describeError(error) });
    }
  };
  for (const action of plan.actions) {
    switch (action.kind) {
      case 'stop':
        await attempt(action, () => edges.systemd.stop(action.unit));
        break;
      case 'write-unit':
        await attempt(action, async () => (await edges.files.write(action.unit, action.text), 'written'));
        break;
      case 'remove-unit':
        await attempt(action, async () => (await edges.files.remove(action.unit), 'removed'));
        break;
      case 'daemon-reload':
        await attempt(action, async () => (await edges.systemd.daemonReload(), 'reloaded'));
        break;
      case 'ensure-image':
        await attempt(action, async () => {
          try {
            return await edges.images.ensure(action.image);
          } catch (error) {
            for (const n of action.names) missingImages.add(n);
            throw error;
          }
        });
        break;
      case 'start':
      case 'restart':
        jobs.push(action);
        break;
    }
  }
  await Promise.all(
    jobs.map((action) => {
      if (action.kind !== 'start' && action.kind !== 'restart') return undefined;
      if (missingImages.has(action.name)) {
        outcomes.push({ action, ok: false, detail: `image for ${action.name} is not available; not started` });
        return undefined;
      }
      return attempt(action, async () => {
        if (action.kind === 'restart' || action.reason === 'failed') await edges.systemd.resetFailed(action.unit);
        return action.kind === 'restart' ? edges.systemd.restart(action.unit) : edges.systemd.start(action.unit);
      });
    }),
  );
  return outcomes;
}
