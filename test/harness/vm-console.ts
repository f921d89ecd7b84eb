/**
 * A test VM's serial console across its qemu runs: timestamped lines in a SerialLog, copied
 * to build/test-logs/<name>/serial.log (and to stderr with echo), and the waits for markers
 * on it. Emits `output` when text arrives and `exit` when qemu ended for good.
 */
import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { formatSerialLine, SerialLog, type MarkerMatch } from './serial-log.js';

/** How long console output must pause before a partial line (a prompt) may match. */
const quietMs = 150;

/** What a wait needs from the VM. */
export interface ConsoleWaitContext {
  running(): boolean;
  /** qemu's last stderr, named when qemu ended before the marker. */
  stderr(): string;
  /** The error to reject with (the VM marks itself failed and adds its console and logs). */
  fail(why: string): Error;
}

export class VmConsole {
  readonly serial = new SerialLog();
  readonly events = new EventEmitter();
  private file?: WriteStream;

  /** `label` prefixes echoed lines; `echo` copies the console to stderr. */
  constructor(private readonly label: string, private readonly echo: boolean) {
    this.events.setMaxListeners(100);
  }

  open(path: string): void {
    this.file = createWriteStream(path, { flags: 'a' });
  }

  /** A harness line in serial.log (`--- … ---`), between the guest's lines. */
  note(text: string): void {
    this.file!.write(`--- ${text} ---\n`);
  }

  /** A new qemu run starts: its lines are timed from `now` and carry the next run number. */
  startRun(now: number): number {
    return this.serial.startRun(now);
  }

  feed(chunk: string): void {
    for (const line of this.serial.feed(chunk, Date.now())) this.write(formatSerialLine(line));
    this.events.emit('output');
  }

  /** qemu's output ended: a last line without a newline is kept too. */
  flush(): void {
    const last = this.serial.flush(Date.now());
    if (last) this.file!.write(formatSerialLine(last) + '\n');
  }

  ended(): void {
    this.events.emit('exit');
  }

  close(): Promise<void> {
    return new Promise<void>((r) => (this.file ? this.file.end(r) : r()));
  }

  /**
   * Waits for `pattern` after the previous marker (or after `after`, see SerialLog.take) and
   * moves past it; rejects with `ctx.fail` when it times out or qemu ends first.
   */
  waitFor(pattern: RegExp, timeoutMs: number, ctx: ConsoleWaitContext, after?: MarkerMatch): Promise<MarkerMatch> {
    const found = this.serial.take(pattern, { partial: !ctx.running(), after });
    if (found) return Promise.resolve(found);
    return new Promise((resolveMatch, reject) => {
      let quiet: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        clearTimeout(quiet);
        this.events.off('output', onOutput);
        this.events.off('exit', onExit);
      };
      const check = (partial: boolean) => {
        const m = this.serial.take(pattern, { partial, after });
        if (m) {
          cleanup();
          resolveMatch(m);
        }
        return m;
      };
      const fail = (why: string) => {
        cleanup();
        reject(ctx.fail(why));
      };
      // A prompt (`login: `) ends without a newline: try the partial line once output pauses.
      const onOutput = () => {
        if (check(false)) return;
        clearTimeout(quiet);
        quiet = setTimeout(() => check(true), quietMs);
      };
      const onExit = () => {
        if (!check(true)) fail(`did not appear before qemu exited (${ctx.stderr().trim() || 'no stderr'})`);
      };
      const timer = setTimeout(() => {
        if (!check(true)) fail(`did not appear within ${timeoutMs} ms`);
      }, timeoutMs);
      this.events.on('output', onOutput);
      this.events.on('exit', onExit);
      if (!ctx.running()) onExit();
      else quiet = setTimeout(() => check(true), quietMs);
    });
  }

  /** Resolves true when qemu ends for good, false after `timeoutMs`. */
  waitEnded(timeoutMs: number): Promise<boolean> {
    return new Promise((resolveEnd) => {
      const onExit = () => {
        clearTimeout(timer);
        resolveEnd(true);
      };
      const timer = setTimeout(() => {
        this.events.off('exit', onExit);
        resolveEnd(false);
      }, timeoutMs);
      this.events.once('exit', onExit);
    });
  }

  private write(text: string): void {
    this.file!.write(text + '\n');
    if (this.echo) process.stderr.write(`${this.label} ${text}\n`);
  }
}
