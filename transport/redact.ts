/**
 * The one redaction rule for URLs that are logged or stored: the user information of any URL in
 * a text (`http://user:password@host/...`, or a bare token `https://TOKEN@host/...`) becomes
 * `***`, so credentials given in a URL reach the source and nothing else — no log line, no
 * stderr echo, no meta file. Only the authority is touched (up to the first `/`, `?` or `#`),
 * so a path or query that holds an `@` is left alone.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@?#]*@/gi;

export function redactCredentials(text: string): string {
  return text.replace(URL_USERINFO, '$1***@');
}
