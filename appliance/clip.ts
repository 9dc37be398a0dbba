// Bounding client-supplied text (names, OIDs, numbers, algorithm names) placed into error messages, so
// a hostile request cannot make a problem document or a log line arbitrarily large. Pure; shared by ca and acme.

/** `s` itself when short, else its first `max` characters and the original length. */
export function clip(s: string, max = 80): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length} characters)` : s;
}

/** JSON text of a client-supplied value, clipped (for messages that quote what the client sent). */
export function quoted(v: unknown, max = 80): string {
  if (v === undefined) return "(none)";
  let s: string;
  try {
    s = String(JSON.stringify(v));
  } catch {
    s = String(v);
  }
  return clip(s, max);
}

/** A list of client-supplied values, at most `n` of them shown. */
export function clipList(items: readonly string[], n = 5): string {
  const shown = items.slice(0, n).map((s) => clip(s));
  return items.length > n ? `${shown.join(", ")} and ${items.length - n} more` : shown.join(", ");
}
