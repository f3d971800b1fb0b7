/** Query parameters of a connection string that hold secrets. */
const SECRET_PARAM = /pass|secret|token|key/i;

/**
 * A database URL safe to log: its password (and any query parameter named like a password,
 * secret, token or key) replaced by `***`; `(unparseable database URL)` when it is not a URL.
 * E.g. `postgres://app:s3cret@db:5432/tickets` → `postgres://app:***@db:5432/tickets`.
 */
export function redactDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "(unparseable database URL)";
  }
  if (parsed.password) parsed.password = "***";
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, "***");
  }
  return parsed.toString().replaceAll("%2A%2A%2A", "***");
}

/** The secrets inside a database URL (the whole URL, its password raw and decoded, secret query values), longest first. */
export function databaseUrlSecrets(url: string): string[] {
  const secrets = new Set<string>([url]);
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      secrets.add(parsed.password);
      secrets.add(decodeURIComponent(parsed.password));
    }
    for (const [name, value] of parsed.searchParams) if (SECRET_PARAM.test(name) && value) secrets.add(value);
  } catch {
    // Not a URL: only the whole string is known to be secret.
  }
  return [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/** `text` with every one of `secrets` replaced by `***` (for error messages that might echo a connection string). */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.replaceAll(secret, "***");
  return out;
}
