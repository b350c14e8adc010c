// Node credentials (K3s node-password semantics). The first agent to ask for a node name binds
// it with its node password: a random secret the agent keeps in its data dir, stored here only
// as a salted hash in the Secret kube-system/<node>.node-password.skiff. A second machine with
// the same name and another password is refused, so it can neither mint credentials for that
// node nor take over its tunnel. Credentials are short-lived JWTs bound to that Secret's UID:
// the agent renews them before they expire (with its current credential and its password), and
// deleting the Secret revokes the machine at once.
import type { Store } from "../store/store";
import { ApiError, badRequest, forbidden } from "../errors";
import { isDns1123Subdomain } from "../../schemas/validation";
import type { Authenticator, Identity } from "./authn";
import { NODE_PASSWORD_NS, NODE_PREFIX, nodePasswordSecretName } from "./bound-tokens";
import { hashSecret, secretMatches } from "./join-tokens";

/** Default lifetime of a node credential; agents renew at two thirds of it. */
export const NODE_TOKEN_TTL_SECONDS = 24 * 3600;
export const NODE_PASSWORD_TYPE = "skiff.io/node-password";

/** Creates Secrets through the cluster's write path (registry + admission). */
export interface SecretWriter {
  /** Returns the stored object; throws ApiError 409 AlreadyExists when it exists. */
  create(obj: any): Promise<any>;
}

export interface NodeCredentials {
  nodeName: string;
  token: string;
  /** Unix seconds. */
  expires: number;
}

export class NodeCredentialIssuer {
  constructor(
    private readonly auth: Authenticator,
    private readonly store: Store,
    private readonly writer: SecretWriter,
    private readonly ttlSeconds = ttlFromEnv(),
  ) {}

  /**
   * Credentials for `nodeName`, for a caller holding a join token, that node's own credential
   * (renewal), or cluster-admin rights (the server's embedded agent). The password must match
   * the node's binding, or becomes it when the name is new.
   */
  async issue(caller: Identity, body: unknown): Promise<NodeCredentials> {
    const b = (body ?? {}) as any;
    const nodeName = b.nodeName;
    if (typeof nodeName !== "string" || !isDns1123Subdomain(nodeName) || nodeName.length > 230)
      throw badRequest(`nodeName must be a lowercase RFC 1123 subdomain of at most 230 characters, got ${JSON.stringify(nodeName)?.slice(0, 100)}`);
    const password = b.nodePassword;
    if (typeof password !== "string" || password.length < 16 || password.length > 512)
      throw badRequest("nodePassword is required: 16 to 512 characters, kept by the agent in <data-dir>/agent/node-password (this agent is older than its server: upgrade it)");
    const admin = caller.groups.includes("system:masters");
    const self = caller.user === `${NODE_PREFIX}${nodeName}` && caller.groups.includes("system:nodes");
    if (!caller.join && !admin && !self) throw forbidden(`User "${caller.user}" cannot request credentials for node "${nodeName}"`);
    const bindingUid = await this.bind(nodeName, password);
    const { token, expires } = await this.auth.nodeToken(nodeName, bindingUid, this.ttlSeconds);
    return { nodeName, token, expires };
  }

  /** The UID of the node's binding, made now if the name is new; refuses another password. */
  private async bind(nodeName: string, password: string): Promise<string> {
    const name = nodePasswordSecretName(nodeName);
    for (let attempt = 0; attempt < 2; attempt++) {
      let cur = this.store.get("secrets", NODE_PASSWORD_NS, name)?.obj;
      if (!cur) {
        // A follower may lag the binding another agent just made.
        await this.store.readBarrier().catch(() => {});
        cur = this.store.get("secrets", NODE_PASSWORD_NS, name)?.obj;
      }
      if (cur) {
        const hash = typeof cur.data?.hash === "string" ? Buffer.from(cur.data.hash, "base64").toString("utf8") : undefined;
        if (!secretMatches(password, hash))
          throw forbidden(
            `Node password rejected for node "${nodeName}": another machine already registered this name, or <data-dir>/agent/node-password was replaced. ` +
              `Use a unique --node-name; if this machine replaces the old one, delete the Secret ${NODE_PASSWORD_NS}/${name} first.`,
          );
        return cur.metadata.uid;
      }
      try {
        const made = await this.writer.create({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name, namespace: NODE_PASSWORD_NS, labels: { "app.kubernetes.io/managed-by": "skiff", "skiff.io/node": nodeName } },
          type: NODE_PASSWORD_TYPE,
          immutable: true,
          data: { hash: Buffer.from(hashSecret(password)).toString("base64") },
        });
        return made.metadata.uid;
      } catch (e) {
        // Two agents raced for the name: the loser is checked against the winner's password.
        if (!(e instanceof ApiError && e.code === 409)) throw e;
      }
    }
    throw new ApiError(409, "Conflict", `the node-password binding of node "${nodeName}" changed while it was read: try again`);
  }
}

function ttlFromEnv(): number {
  const v = Number(process.env.SKIFF_NODE_TOKEN_TTL_SECONDS);
  return Number.isInteger(v) && v >= 10 ? v : NODE_TOKEN_TTL_SECONDS;
}
