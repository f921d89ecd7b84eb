import { KeelError } from '../errors.js';
import type { RolloutStep } from './release.js';

/** Parses `--rollout ISO=PERCENT,ISO=PERCENT` into steps; refuses bad times or percentages. */
export function parseRolloutSpec(spec: string): RolloutStep[] {
  return spec
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const i = part.lastIndexOf('=');
      const at = part.slice(0, i);
      // Whole percentages in decimal only: Number() would also take '', '0x10' and '1e2'.
      const text = part.slice(i + 1);
      const percent = /^[0-9]{1,3}$/.test(text) ? Number(text) : NaN;
      if (i < 0 || !Number.isFinite(Date.parse(at)) || !(percent >= 0 && percent <= 100))
        throw new KeelError('usage', `--rollout: expected TIME=PERCENT (an ISO time, a whole number 0–100), found '${part}'`);
      return { at: new Date(Date.parse(at)).toISOString(), percent };
    });
}
