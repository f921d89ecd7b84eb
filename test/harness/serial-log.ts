/**
 * The serial console of a VM as timestamped lines (pure: bytes and the clock are passed in).
 * Markers are matched from a cursor that moves past each match, so waiting for the same
 * marker twice finds the second boot's line, and a prompt without a newline (`login: `)
 * is matched on the pending partial line.
 */

/** One console line: ms since the qemu process (of this boot run) started. */
export interface SerialLine {
  ms: number;
  /** Which qemu run printed it: 1 for the first start, 2 after a restart, ... */
  run: number;
  text: string;
}

export interface MarkerMatch {
  line: SerialLine;
  /** Index of the line in the log. */
  index: number;
  match: RegExpExecArray;
}

// Terminal control sequences systemd and getty print on the console; they break regexes.
const ansi = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>cm]/g;

/** Strips control sequences and carriage returns from a console line. */
export function cleanConsoleText(raw: string): string {
  // eslint-disable-next-line no-control-regex
  return raw.replace(ansi, '').replace(/\r/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');
}

export class SerialLog {
  readonly lines: SerialLine[] = [];
  private pending = '';
  private pendingMs = 0;
  private run = 0;
  private runStartMs = 0;
  /** Lines before this index were consumed by an earlier marker. */
  cursor = 0;

  /** Marks the start of a qemu run; timestamps of what follows count from `nowMs`. */
  startRun(nowMs: number): number {
    this.flush(nowMs);
    this.run += 1;
    this.runStartMs = nowMs;
    return this.run;
  }

  /** Feeds console output received at `nowMs`; returns the lines it completed. */
  feed(chunk: string, nowMs: number): SerialLine[] {
    const done: SerialLine[] = [];
    let rest = chunk;
    for (;;) {
      const nl = rest.indexOf('\n');
      if (this.pending === '' && rest !== '') this.pendingMs = nowMs - this.runStartMs;
      if (nl < 0) {
        this.pending += rest;
        return done;
      }
      const line: SerialLine = { ms: this.pendingMs, run: this.run, text: cleanConsoleText(this.pending + rest.slice(0, nl)) };
      this.lines.push(line);
      done.push(line);
      this.pending = '';
      rest = rest.slice(nl + 1);
    }
  }

  /** Ends a partial line (qemu exited, or a restart): it becomes a full line. */
  flush(nowMs: number): SerialLine | undefined {
    if (this.pending === '') return undefined;
    const line: SerialLine = { ms: this.pendingMs, run: this.run, text: cleanConsoleText(this.pending) };
    this.lines.push(line);
    this.pending = '';
    void nowMs;
    return line;
  }

  /** The partial line not yet ended by a newline, cleaned, as a line (or undefined). */
  partial(): SerialLine | undefined {
    return this.pending === '' ? undefined : { ms: this.pendingMs, run: this.run, text: cleanConsoleText(this.pending) };
  }

  /**
   * Finds `pattern` at or after the cursor (complete lines, then the partial line if
   * `partial`) and moves the cursor past it. Returns undefined when it has not appeared yet.
   * Match the partial line only once output has paused: mid-line it may be cut anywhere.
   * `after` searches from the line after that earlier match instead, for two markers whose
   * order is not fixed (a getty prompt and a service's line): the cursor never moves back.
   */
  take(pattern: RegExp, opts: { partial?: boolean; after?: MarkerMatch } = {}): MarkerMatch | undefined {
    const found = this.find(pattern, opts.after ? opts.after.index + 1 : this.cursor, opts);
    if (found) this.cursor = Math.max(this.cursor, found.index + 1);
    return found;
  }

  /** Finds `pattern` at or after line `from` without moving the cursor. */
  find(pattern: RegExp, from = 0, opts: { partial?: boolean } = {}): MarkerMatch | undefined {
    const re = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
    for (let i = from; i < this.lines.length; i++) {
      const line = this.lines[i]!;
      const match = re.exec(line.text);
      if (match) return { line, index: i, match };
    }
    const partial = opts.partial ? this.partial() : undefined;
    if (partial && this.lines.length >= from) {
      const match = re.exec(partial.text);
      if (match) return { line: partial, index: this.lines.length, match };
    }
    return undefined;
  }

  /** Whether the current run's last lines carry the kernel's reboot message (not a power-off). */
  endedInReboot(): boolean {
    for (let i = this.lines.length - 1; i >= 0 && i >= this.lines.length - 20; i--) {
      const line = this.lines[i]!;
      if (line.run !== this.run) return false;
      if (/reboot: Restarting system/.test(line.text)) return true;
    }
    return false;
  }

  /** The last `n` lines (with the partial one), formatted, for a failure message. */
  tail(n: number): string {
    const partial = this.partial();
    const all = partial ? [...this.lines, partial] : this.lines;
    return all.slice(-n).map(formatSerialLine).join('\n');
  }
}

/** `[   12.345] text`: seconds since the qemu run started, like the kernel's own stamps. */
export function formatSerialLine(line: SerialLine): string {
  return `[${(line.ms / 1000).toFixed(3).padStart(8)}]${line.run > 1 ? ` #${line.run}` : ''} ${line.text}`;
}
