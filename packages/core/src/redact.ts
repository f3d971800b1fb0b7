/** What a redacted value is replaced with. */
export const REDACTED = "[REDACTED]";

/** Words that make a key name a secret's (`apiKey`, `x-api-key`, `Authorization`, `client_secret`, `idToken`, …). */
const SECRET_WORDS: ReadonlySet<string> = new Set([
  "password",
  "passwd",
  "passphrase",
  "pwd",
  "secret",
  "secrets",
  "token",
  "tokens",
  "authorization",
  "auth",
  "cookie",
  "cookies",
  "credential",
  "credentials",
  "apikey",
  "privatekey",
  "accesskey",
  "sessionid",
  "signature",
  "otp",
]);

/** Two consecutive words that make a key name a secret's (`api_key`, `privateKey`, `set-cookie`, …). */
const SECRET_PAIRS: ReadonlySet<string> = new Set(["api key", "access key", "private key", "secret key", "session id", "set cookie"]);

/** The words of a key name: camelCase, PascalCase, snake_case, kebab-case and dotted names split, lower-cased. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

/** Whether a key name looks like it holds a secret (`apiKey`, `Authorization`, `db_password`, `x-api-key`, …). */
export function isSecretKey(key: string): boolean {
  const words = keyWords(key);
  for (let i = 0; i < words.length; i++) {
    if (SECRET_WORDS.has(words[i] ?? "")) return true;
    if (i > 0 && SECRET_PAIRS.has(`${words[i - 1]} ${words[i]}`)) return true;
  }
  return false;
}

/**
 * Patterns of secrets inside strings, each replaced (only the secret part) wherever it appears:
 * HTTP credentials, provider API keys, cloud access keys, JWTs, PEM private keys, passwords in
 * URLs and secret query parameters.
 */
const SECRET_PATTERNS: readonly { readonly pattern: RegExp; readonly replace: string }[] = [
  { pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g, replace: REDACTED },
  { pattern: /\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]{8,}=*/gi, replace: `$1 ${REDACTED}` },
  { pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, replace: REDACTED },
  { pattern: /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}/g, replace: REDACTED },
  { pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, replace: REDACTED },
  { pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, replace: REDACTED },
  { pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replace: REDACTED },
  { pattern: /\bAIza[0-9A-Za-z_-]{35}\b/g, replace: REDACTED },
  { pattern: /\b[rsp]k_(?:live|test)_[0-9A-Za-z]{10,}/g, replace: REDACTED },
  { pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:)[^@\s/]+@/gi, replace: `$1${REDACTED}@` },
  {
    pattern:
      /([?&;](?:access_token|refresh_token|id_token|token|api_key|apikey|key|secret|client_secret|signature|sig|password|pwd)=)[^&\s#;]+/gi,
    replace: `$1${REDACTED}`,
  },
];

/** `text` with every secret-looking part (bearer tokens, API keys, JWTs, URL passwords, …) replaced by {@link REDACTED}. */
export function redactString(text: string): string {
  let out = text;
  for (const { pattern, replace } of SECRET_PATTERNS) out = out.replace(pattern, replace);
  return out;
}

/**
 * A copy of `value` (any JSON value, typically an audit entry's `details`) safe to keep: the value
 * of every member whose key looks like a secret's ({@link isSecretKey}) is replaced by
 * {@link REDACTED} when it is a string, an object or an array (numbers and booleans stay, so counts
 * like `inputTokens` survive), and in every other string the secret-looking parts are replaced
 * ({@link redactString}). The input is not modified.
 */
export function redact<T>(value: T): T {
  return walk(value, 0) as T;
}

const MAX_DEPTH = 64;

function walk(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactString(value);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = isSecretKey(key) && (typeof v === "string" || (v !== null && typeof v === "object")) ? REDACTED : walk(v, depth + 1);
  }
  return out;
}
