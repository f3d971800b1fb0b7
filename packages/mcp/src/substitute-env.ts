/** `${NAME}` (NAME: a letter or `_`, then letters, digits or `_`), or the escape `$${`. */
const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** A `${VAR}` in a config names a variable that is not set. */
export class MissingVariableError extends Error {
  override readonly name = "MissingVariableError";
  /** The unset variable. */
  readonly variable: string;
  /** Where it is used, as a dotted path, e.g. `servers.fs.headers.Authorization`. */
  readonly path: string;
  constructor(variable: string, path: string) {
    super(`${path || "(root)"}: environment variable ${variable} is not set`);
    this.variable = variable;
    this.path = path;
  }
}

/**
 * Replaces `${NAME}` in every string of a JSON value (object keys stay as they are) with the
 * variable's value from `env`; `$${` stands for a literal `${`. An empty value counts as set.
 * Returns a new value; `value` is not changed.
 * @throws MissingVariableError for the first variable that is not set, naming it and the field.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = ""): unknown {
  if (typeof value === "string") {
    return value.replace(PLACEHOLDER, (match: string, name: string | undefined) => {
      if (name === undefined) return "${";
      const resolved = env[name];
      if (resolved === undefined) throw new MissingVariableError(name, path);
      return resolved;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substituteEnv(item, env, join(path, String(i))));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteEnv(item, env, join(path, key))]));
  }
  return value;
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
