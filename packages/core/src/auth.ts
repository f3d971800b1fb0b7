import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Role, roleUser, rolePermissions } from "@baton/contracts";
import {
  createAccount,
  createOperator,
  createUser,
  decode,
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
  fromSeed,
  type KeyPair,
} from "@nats-io/jwt";

/**
 * A deployment's trust roots, for NATS decentralized authentication (JWT): an operator that the
 * server trusts, the `BATON` account every Baton service and client lives in (JetStream enabled),
 * and the `SYS` system account. User credentials are minted from the account key for one role
 * each, with that role's permissions in the user JWT — so a new agent type gets least-privilege
 * credentials without any change to the server. See https://docs.nats.io/running-a-nats-service/configuration/securing_nats/jwt
 */
export interface BatonDeployment {
  /** The folder holding `keys/`, `jwt/`, `creds/`. */
  readonly dir: string;
  readonly operatorJwt: string;
  readonly accountPublicKey: string;
  readonly accountJwt: string;
  readonly systemAccountPublicKey: string;
  readonly systemAccountJwt: string;
  /** Signs user JWTs. A secret: whoever holds it can mint any role's credentials. */
  readonly accountKey: KeyPair;
}

const UNLIMITED_ACCOUNT = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
  max_ack_pending: -1,
  mem_max_stream_bytes: -1,
  disk_max_stream_bytes: -1,
};

/** Writes a secret file readable by its owner only (mode 0600). */
function writeSecret(file: string, content: string): void {
  writeFileSync(file, content, { mode: 0o600 });
  chmodSync(file, 0o600);
}

/**
 * Loads the deployment in `dir`, creating it first when absent: operator, account and system
 * account keys in `<dir>/keys/*.nk` (seeds, mode 0600) and their JWTs in `<dir>/jwt/`.
 * @throws Error when `dir` holds a partial or unreadable deployment.
 */
export async function ensureDeployment(dir: string): Promise<BatonDeployment> {
  const keys = join(dir, "keys");
  const jwts = join(dir, "jwt");
  if (!existsSync(join(keys, "account.nk"))) {
    mkdirSync(keys, { recursive: true, mode: 0o700 });
    mkdirSync(jwts, { recursive: true });
    const operator = createOperator();
    const system = createAccount();
    const account = createAccount();
    const operatorJwt = await encodeOperator("baton", operator, { system_account: system.getPublicKey() });
    const systemJwt = await encodeAccount("SYS", system, {}, { signer: operator });
    const accountJwt = await encodeAccount("BATON", account, { limits: UNLIMITED_ACCOUNT } as never, { signer: operator });
    writeSecret(join(keys, "operator.nk"), new TextDecoder().decode(operator.getSeed()));
    writeSecret(join(keys, "system.nk"), new TextDecoder().decode(system.getSeed()));
    writeSecret(join(keys, "account.nk"), new TextDecoder().decode(account.getSeed()));
    writeFileSync(join(jwts, "operator.jwt"), operatorJwt);
    writeFileSync(join(jwts, "system.jwt"), systemJwt);
    writeFileSync(join(jwts, "account.jwt"), accountJwt);
  }
  const read = (file: string) => readFileSync(file, "utf8").trim();
  const accountKey = fromSeed(new TextEncoder().encode(read(join(keys, "account.nk"))));
  const systemKey = fromSeed(new TextEncoder().encode(read(join(keys, "system.nk"))));
  return {
    dir,
    operatorJwt: read(join(jwts, "operator.jwt")),
    accountPublicKey: accountKey.getPublicKey(),
    accountJwt: read(join(jwts, "account.jwt")),
    systemAccountPublicKey: systemKey.getPublicKey(),
    systemAccountJwt: read(join(jwts, "system.jwt")),
    accountKey,
  };
}

/**
 * Mints credentials (a NATS `.creds` text: the user JWT and its seed) for `role`: a fresh user
 * key, the user name {@link roleUser}, and the role's publish and subscribe allow-lists
 * ({@link rolePermissions}) in the JWT. `expiresInS` (seconds) bounds their lifetime; default none.
 */
export async function mintCredentials(deployment: BatonDeployment, role: Role, options: { expiresInS?: number } = {}): Promise<string> {
  const user = createUser();
  const permissions = rolePermissions(role);
  const jwt = await encodeUser(
    roleUser(role),
    user,
    deployment.accountKey,
    { pub: { allow: [...permissions.publish] }, sub: { allow: [...permissions.subscribe] } },
    options.expiresInS ? { exp: Math.floor(Date.now() / 1000) + options.expiresInS } : {},
  );
  return new TextDecoder().decode(fmtCreds(jwt, user));
}

/**
 * Writes credentials for `role` to `<dir>/creds/<user>.creds` (mode 0600), minting them when the
 * file is missing, and returns the path. Existing files are kept (delete one to rotate it).
 */
export async function writeCredentials(deployment: BatonDeployment, role: Role): Promise<string> {
  const dir = join(deployment.dir, "creds");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${roleUser(role)}.creds`);
  if (!existsSync(file)) writeSecret(file, await mintCredentials(deployment, role));
  return file;
}

/**
 * The nats-server configuration lines that turn authentication on for the deployment: trust the
 * operator, preload the two accounts into a memory resolver, name the system account, and allow
 * CONNECT lines long enough for the role JWTs (64 KiB). With them, a connection without valid
 * credentials is refused.
 */
export function natsServerAuthConfig(deployment: BatonDeployment): string {
  return [
    // A role's user JWT carries its allow-lists; the supervisor's makes a CONNECT line of ~8 KiB,
    // over the server's 4 KiB default.
    "max_control_line: 65536",
    `operator: ${deployment.operatorJwt}`,
    `system_account: ${deployment.systemAccountPublicKey}`,
    "resolver: MEMORY",
    "resolver_preload: {",
    `  ${deployment.accountPublicKey}: ${deployment.accountJwt}`,
    `  ${deployment.systemAccountPublicKey}: ${deployment.systemAccountJwt}`,
    "}",
  ].join("\n");
}

/** The user name inside a `.creds` text (its JWT's `name`), e.g. `agent-geo`. @throws Error when it holds no user JWT. */
export function credentialsUser(creds: string): string {
  return credentialsIdentity(creds).name;
}

/**
 * Who a `.creds` text is: the user name (its JWT's `name`) and public NKey (`sub`, the `U…` key
 * nats-server logs). @throws Error when it holds no user JWT, or one without a name.
 */
export function credentialsIdentity(creds: string): { readonly name: string; readonly publicKey: string } {
  const jwt = /-----BEGIN NATS USER JWT-----\s*([^\s-][^\s]*)\s*------END NATS USER JWT------/.exec(creds)?.[1];
  if (!jwt) throw new Error("not a NATS credentials file: no user JWT in it");
  const claims = decode<unknown>(jwt);
  if (!claims.name) throw new Error("the user JWT in the credentials has no name");
  return { name: claims.name, publicKey: claims.sub };
}

/** The users of a deployment's credentials (`<dir>/creds/*.creds`), by public NKey. Unreadable files are skipped. */
export function deploymentUsers(dir: string): Map<string, string> {
  const users = new Map<string, string>();
  const credsDir = join(dir, "creds");
  if (!existsSync(credsDir)) return users;
  for (const file of readdirSync(credsDir)) {
    if (!file.endsWith(".creds")) continue;
    try {
      const { name, publicKey } = credentialsIdentity(readFileSync(join(credsDir, file), "utf8"));
      users.set(publicKey, name);
    } catch {
      // Not credentials (a stray file in the folder): nothing to learn from it.
    }
  }
  return users;
}
