/**
 * A stand-in for the GitHub API on 127.0.0.1, so per-session GitHub tokens can be exercised without
 * GitHub. The CLI (1.0.102) resolves a session's `gitHubToken` with `GET /copilot_internal/user`
 * against `COPILOT_DEBUG_GITHUB_API_URL` when that is set (else https://api.github.com), then sends
 * model requests, with the same token as `Authorization: Bearer`, to the `endpoints.api` that answer
 * names. Here that is the stub model, so a whole turn runs on loopback.
 *
 * Measured against CLI 1.0.102: `{ login, endpoints: { api } }` is enough for a session and a turn;
 * every other route it asks for (`managed_settings`, `team_customizations`, `/mcp/readonly`) may 404.
 * What real GitHub checks (token validity, Copilot seat, plan, quotas, content exclusion) is not
 * modelled: this proves only the plumbing.
 */
import * as http from "node:http";
import { listenOnLoopback } from "./loopback";

/** The variable the CLI reads for the GitHub API base URL (debug hook in the 1.0.102 bundle). */
export const GITHUB_API_URL_ENV = "COPILOT_DEBUG_GITHUB_API_URL";

export interface FakeGitHubRequest {
    readonly method: string;
    readonly path: string;
    readonly authorization?: string;
}

export interface FakeGitHub {
    /** `http://127.0.0.1:P`: the value for `COPILOT_DEBUG_GITHUB_API_URL`. */
    readonly url: string;
    readonly requests: FakeGitHubRequest[];
    stop(): Promise<void>;
}

export interface FakeGitHubOptions {
    /** `endpoints.api` in the user answer: where the CLI sends model requests (the stub model's root URL). */
    readonly modelApiUrl: string;
    /** Tokens that resolve to a user (token → login); any other token gets 401 like GitHub's "Bad credentials". */
    readonly users: Readonly<Record<string, string>>;
}

export async function startFakeGitHub(opts: FakeGitHubOptions): Promise<FakeGitHub> {
    const requests: FakeGitHubRequest[] = [];
    const server = http.createServer((req, res) => {
        req.resume();
        const path = (req.url ?? "/").split("?")[0];
        const authorization = typeof req.headers.authorization === "string" ? req.headers.authorization : undefined;
        requests.push({ method: req.method ?? "?", path, authorization });
        const send = (status: number, body: unknown): void => {
            res.writeHead(status, { "content-type": "application/json" });
            res.end(JSON.stringify(body));
        };
        if (req.method === "GET" && path === "/copilot_internal/user") {
            const token = /^(?:bearer|token) (.+)$/i.exec(authorization ?? "")?.[1];
            const login = token === undefined ? undefined : opts.users[token];
            if (login === undefined) return send(401, { message: "Bad credentials" });
            return send(200, { login, endpoints: { api: opts.modelApiUrl } });
        }
        send(404, { message: "Not Found" });
    });
    const listener = await listenOnLoopback(server, 0);
    return {
        url: `http://127.0.0.1:${listener.port}`,
        requests,
        stop: listener.stop,
    };
}
