/**
 * The supernode's log: one line per event, `<ISO time> <level> <message>`, appended to
 * `<home>/logs/supernode.log` and echoed to stderr (where an operator or a test harness sees it).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { makeDirsSync } from '../make-dirs.ts';
import { redactCredentials } from '../redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  log(level: LogLevel, message: string): void;
  close(): Promise<void>;
}

export function fileLogger(path: string, minLevel: LogLevel = 'info', echo: NodeJS.WritableStream | null = process.stderr): Logger {
  makeDirsSync(dirname(path));
  const file: WriteStream = createWriteStream(path, { flags: 'a' });
  file.on('error', (err) => echo?.write(`cannot write the log file ${path}: ${err.message}\n`));
  return {
    log(level, message) {
      if (RANK[level] < RANK[minLevel]) return;
      const line = `${new Date().toISOString()} ${level} ${redactCredentials(message)}\n`;
      file.write(line);
      echo?.write(line);
    },
    close: () => new Promise((resolve) => file.end(resolve)),
  };
}
