/**
 * A recording UnitManager for applier unit tests: it records every call in order and
 * answers each unit command with a result from a table (default `done`). The applier's
 * use of the real D-Bus manager is covered by the live integration test.
 */
import type { UnitCommand } from '../../../src/systemd/unit-command.js';
import type { UnitCommandResult, UnitManager } from '../../../src/host/unit-manager.js';

export class RecordingUnits implements UnitManager {
  readonly calls: string[] = [];
  constructor(private readonly results: Record<string, string> = {}) {}
  async daemonReload(): Promise<void> {
    this.calls.push('daemon-reload');
  }
  async runUnitCommand(unit: string, command: UnitCommand, options: { noBlock?: boolean } = {}): Promise<UnitCommandResult> {
    this.calls.push(`${command} ${unit}${options.noBlock ? ' (no-block)' : ''}`);
    return { unit, command, result: this.results[unit] ?? (options.noBlock ? 'queued' : 'done') };
  }
  async runTransient(name: string, argv: string[]): Promise<UnitCommandResult> {
    this.calls.push(`transient ${name} ${argv.join(' ')}`);
    return { unit: name, command: 'start', result: this.results[argv.join(' ')] ?? 'done' };
  }
  async close(): Promise<void> {
    this.calls.push('close');
  }
}
