/**
 * `--help` without loading the program. `npm run build` runs transport/write-help.ts, which
 * writes each command's help, exactly as commander prints it to a pipe, to dist/help/<name>.txt;
 * bin/built.js prints that file when the only argument is `--help` or `-h` and stdout is a pipe,
 * a file or a terminal at least HELP_WIDTH_COLUMNS wide. So that the file is what commander
 * itself would print there, the commands wrap their help at HELP_WIDTH_COLUMNS at most
 * (withHelpWidth); a narrower terminal gets commander's own help, wrapped to fit.
 */
import type { Command } from 'commander';

export const HELP_WIDTH_COLUMNS = 80;

/** Wrap the command's help at the terminal's width, at most HELP_WIDTH_COLUMNS (80 off a terminal). */
export function withHelpWidth(program: Command): Command {
  return program.configureOutput({
    getOutHelpWidth: () => Math.min(process.stdout.isTTY ? process.stdout.columns || HELP_WIDTH_COLUMNS : HELP_WIDTH_COLUMNS, HELP_WIDTH_COLUMNS),
  });
}

/** What `<command> --help` prints at HELP_WIDTH_COLUMNS, without colours. */
export function helpTextOf(program: Command): string {
  let text = '';
  program.configureOutput({
    writeOut: (chunk) => { text += chunk; },
    getOutHelpWidth: () => HELP_WIDTH_COLUMNS,
    getOutHasColors: () => false,
  });
  program.outputHelp();
  return text;
}
