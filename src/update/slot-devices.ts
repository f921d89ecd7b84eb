import { join } from 'node:path';
import type { Slot } from './agent-state.js';

/**
 * The agent's edge to its two slots: where each slot's image is written. A real host writes
 * the GPT partition labelled `keel-root-<slot>`; a test host keeps the slots as files in a
 * directory. The agent is handed one of these; it never decides on its own.
 */
export type SlotDevices = (slot: Slot) => string;

/** A real host: the block device of the partition labelled keel-root-<slot>. */
export const slotPartitions: SlotDevices = (slot) => `/dev/disk/by-partlabel/keel-root-${slot}`;

/** A test host: `slot-<slot>.img` in `dir`. */
export function slotFilesIn(dir: string): SlotDevices {
  return (slot) => join(dir, `slot-${slot}.img`);
}
