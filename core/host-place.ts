/**
 * Where a host says it is: its IDC (data centre) and its location (levels, widest first, joined
 * by "|", e.g. `cn|hangzhou|rack-7`). Hosts declare them (`--idc`, `--location`); the manager
 * uses them to choose a supernode and the scheduler to prefer near holders. The checks live
 * apart from the manager's API so a command can check its flags without loading the decoders.
 */

export const HOST_PLACE_LIMITS = Object.freeze({
  idcChars: 64,
  locationSegments: 16,
  locationSegmentChars: 64,
});

const NAME = /^[A-Za-z0-9._-]+$/;

/** Why `idc` is not a valid IDC name, or null when it is ('' = none). */
export function idcProblem(idc: string): string | null {
  if (idc.length > HOST_PLACE_LIMITS.idcChars) return `idc of ${idc.length} characters is over the ${HOST_PLACE_LIMITS.idcChars}-character limit`;
  if (idc !== '' && !NAME.test(idc)) return `idc "${clip(idc)}" may hold only letters, digits, ".", "_" and "-"`;
  return null;
}

/** Why `location` is not a valid location, or null when it is ('' = none). */
export function locationProblem(location: string): string | null {
  if (location === '') return null;
  const segments = location.split('|');
  if (segments.length > HOST_PLACE_LIMITS.locationSegments) {
    return `location has ${segments.length} levels; at most ${HOST_PLACE_LIMITS.locationSegments} are allowed`;
  }
  for (const segment of segments) {
    if (segment.length === 0 || segment.length > HOST_PLACE_LIMITS.locationSegmentChars || !NAME.test(segment)) {
      return `location "${clip(location)}" must be levels of letters, digits, ".", "_" or "-" (at most ` +
        `${HOST_PLACE_LIMITS.locationSegmentChars} each) joined by "|", widest first, e.g. cn|hangzhou|rack-7`;
    }
  }
  return null;
}

function clip(text: string): string {
  return text.length > 64 ? `${text.slice(0, 64)}...` : text;
}
