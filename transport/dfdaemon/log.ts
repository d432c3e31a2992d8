/**
 * dfdaemon's log: one line per event, appended to `<home>/logs/dfdaemon.log` and echoed to
 * stderr, so a user who sees a pull fail can read why (P2P failure, fallback, digest mismatch).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { makeDirsSync } from '../make-dirs.ts';
import { redactCredentials } from '../redact.ts';

export type LogLevel = 'info' | 'warn' | 'error';
export type LogFn = (level: LogLevel, message: string) => void;

export interface FileLog {
  log: LogFn;
  path: string;
  close(): Promise<void>;
}

export function openLog(homeDir: string, echo: (line: string) => void = (line) => process.stderr.write(line)): FileLog {
  const dir = join(homeDir, 'logs');
  makeDirsSync(dir);
  const path = join(dir, 'dfdaemon.log');
  const stream: WriteStream = createWriteStream(path, { flags: 'a' });
  stream.on('error', (err) => echo(`dfdaemon: cannot write ${path}: ${err.message}\n`));
  return {
    path,
    log: (level, message) => {
      const line = `${new Date().toISOString()} ${level.toUpperCase()} ${redactCredentials(message)}\n`;
      stream.write(line);
      echo(line);
    },
    close: () => new Promise((resolve) => stream.end(() => resolve())),
  };
}
