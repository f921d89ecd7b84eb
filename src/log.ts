/**
 * Logging for daemons and commands. Under systemd (JOURNAL_STREAM set) each line gets a
 * `<N>` syslog priority prefix, which journald turns into the entry's priority; on a
 * terminal the line is printed plainly with the level word.
 */
export type Level = 'error' | 'warning' | 'notice' | 'info' | 'debug';

const priority: Record<Level, number> = { error: 3, warning: 4, notice: 5, info: 6, debug: 7 };

export interface Logger {
  error(message: string): void;
  warning(message: string): void;
  notice(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export function createLogger(stream: NodeJS.WritableStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Logger {
  const journal = Boolean(env.JOURNAL_STREAM);
  const debug = Boolean(env.KEEL_DEBUG);
  const write = (level: Level, message: string) => {
    if (level === 'debug' && !debug) return;
    for (const line of message.split('\n')) {
      stream.write(journal ? `<${priority[level]}>${line}\n` : `${level === 'info' || level === 'notice' ? '' : `${level}: `}${line}\n`);
    }
  };
  return {
    error: (m) => write('error', m),
    warning: (m) => write('warning', m),
    notice: (m) => write('notice', m),
    info: (m) => write('info', m),
    debug: (m) => write('debug', m),
  };
}
