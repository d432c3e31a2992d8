/**
 * A scenario file or a command-line flag that cannot be used; the message names the field or
 * flag and says what was expected. dfsim prints it and exits with status 2. A module of its own
 * so the CLI can refuse a bad flag before it loads the simulator.
 */
export class ScenarioError extends Error {}
