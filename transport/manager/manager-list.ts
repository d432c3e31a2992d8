/**
 * `--manager` lists, as every command reads them (dfget, dfdaemon, supernode, preheat). Apart
 * from the client so a command can check its flags without loading it.
 */

/** `--manager` as given: `host:port` or `http(s)://host:port`, comma-separated; base URLs out. */
export function parseManagerList(text: string): string[] {
  const managers = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(managerBaseUrl);
  if (managers.length === 0) throw new Error('give at least one manager, e.g. http://10.0.0.9:8004');
  return managers;
}

function managerBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new Error(`"${text}" is not a URL (e.g. http://10.0.0.9:8004)`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '' || url.pathname !== '/') {
    throw new Error(`"${text}" must be http(s)://host:port with no path (e.g. http://10.0.0.9:8004)`);
  }
  return `${url.protocol}//${url.host}`;
}
