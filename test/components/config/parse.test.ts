import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "fs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CONFIG_KEYS, ConfigError, ConfigSource, DEFAULT_CLI_VERSION, imageReferenceProblem, parseFleetConfig, RawConfig, readRawConfig, SECRET_CONFIG_KEYS } from "../../../components/config";
import { promiseOf } from "../../helpers/pulumiMocks";
import { parse as parseYaml } from "yaml";

const base: RawConfig = { platform: "kubernetes", githubToken: "gho_service", image: "registry.example.com/copilot-cli:1.0.102" };

/** The messages parseFleetConfig throws for `raw` (fails the test when it does not throw). */
function problems(raw: RawConfig): string[] {
    try {
        parseFleetConfig(raw);
    } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect(pulumi.RunError.isInstance(e)).toBe(true);
        return (e as ConfigError).issues.map((i) => i.message);
    }
    throw new Error(`expected a ConfigError for ${JSON.stringify(raw)}`);
}

describe("parseFleetConfig defaults", () => {
    it("applies the documented defaults", () => {
        const cfg = parseFleetConfig(base);
        expect(cfg).toMatchObject({
            platform: "kubernetes",
            mode: "shared",
            replicas: 3,
            users: [],
            cliVersion: DEFAULT_CLI_VERSION,
            exposure: "cluster",
            allowedCidrs: [],
            egressAllowedCidrs: [],
            redis: true,
            sessionTtlHours: 24,
            sessionCleanupIntervalMinutes: 60,
            storageSize: "10Gi",
            namespace: "copilot-fleet",
            createNamespace: true,
            clientAffinity: false,
            imagePlatform: "linux/amd64",
        });
        expect(cfg.connectionToken).toBeUndefined();
        expect(cfg.sessionIdleTimeoutSeconds).toBeUndefined();
    });

    it("pins the same CLI version as package.json's @github/copilot", () => {
        // A dev dependency: the library's consumers need no CLI binary, only this repository's tests and smoke suite do.
        const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { devDependencies: Record<string, string> };
        expect(pkg.devDependencies["@github/copilot"]).toBe(DEFAULT_CLI_VERSION);
    });

    it("defaults redis off in per-user mode", () => {
        expect(parseFleetConfig({ ...base, mode: "per-user", users: '["alice"]' }).redis).toBe(false);
    });

    it("keeps every token a secret", async () => {
        const cfg = parseFleetConfig({ ...base, connectionToken: "c".repeat(32) });
        expect(cfg.credential.kind).toBe("githubToken");
        if (cfg.credential.kind !== "githubToken") return;
        expect(await pulumi.isSecret(cfg.credential.githubToken)).toBe(true);
        expect(await promiseOf(cfg.credential.githubToken)).toBe("gho_service");
        expect(await pulumi.isSecret(cfg.connectionToken!)).toBe(true);

        const byok = parseFleetConfig({
            platform: "kubernetes",
            image: base.image,
            provider: JSON.stringify({ baseUrl: "https://models.example.com/v1", model: "gpt-4.1", apiKey: "sk-1" }),
        });
        expect(byok.credential.kind).toBe("provider");
        if (byok.credential.kind !== "provider") return;
        expect(byok.credential.provider).toMatchObject({ type: "openai", baseUrl: "https://models.example.com/v1", model: "gpt-4.1" });
        expect(await pulumi.isSecret(byok.credential.provider.apiKey!)).toBe(true);

        const users = parseFleetConfig({ ...base, mode: "per-user", users: JSON.stringify(["bob", { id: "alice", githubToken: "gho_alice", suspended: true }]) });
        expect(users.users.map((u) => [u.id, u.suspended])).toEqual([["bob", false], ["alice", true]]);
        expect(await pulumi.isSecret(users.users[1].githubToken!)).toBe(true);
        expect(users.users[0].githubToken).toBeUndefined();
    });

    it("accepts every documented key at once", () => {
        const cfg = parseFleetConfig({
            ...base,
            replicas: "5",
            exposure: "public",
            allowedCidrs: '["203.0.113.0/24","2001:db8::/32"]',
            redis: "false",
            sessionTtlHours: "48",
            sessionCleanupIntervalMinutes: "15",
            sessionIdleTimeoutSeconds: "3600",
            storageClass: "azurefile-csi-premium",
            storageSize: "100Gi",
            namespace: "copilot-prod",
            createNamespace: "false",
            clientAffinity: "true",
            serviceAnnotations: '{"a.example.com/x":"y"}',
            resources: '{"memoryLimit":"4Gi","cpuRequest":"500m"}',
        });
        expect(cfg).toMatchObject({
            replicas: 5,
            exposure: "public",
            allowedCidrs: ["203.0.113.0/24", "2001:db8::/32"],
            redis: false,
            sessionTtlHours: 48,
            sessionCleanupIntervalMinutes: 15,
            sessionIdleTimeoutSeconds: 3600,
            storageClass: "azurefile-csi-premium",
            storageSize: "100Gi",
            namespace: "copilot-prod",
            createNamespace: false,
            clientAffinity: true,
            serviceAnnotations: { "a.example.com/x": "y" },
            resources: { memoryLimit: "4Gi", cpuRequest: "500m" },
        });
    });
});

describe("parseFleetConfig refuses each mistake, naming key, value and what is accepted", () => {
    const cases: Array<[string, RawConfig, string]> = [
        ["unknown platform", { ...base, platform: "gke" }, 'platform: "gke" is not accepted; use one of "kubernetes", "aci", "docker"'],
        ["unknown mode", { ...base, mode: "multi" }, 'mode: "multi" is not accepted; use one of "shared", "per-user"'],
        ["unknown exposure", { ...base, exposure: "internet" }, 'exposure: "internet" is not accepted; use one of "cluster", "internal", "public"'],
        ["replicas not an integer", { ...base, replicas: "2.5" }, 'replicas: "2.5" is not accepted; use an integer from 1 to 50'],
        ["replicas zero", { ...base, replicas: "0" }, 'replicas: "0" is not accepted; use an integer from 1 to 50'],
        ["replicas too many", { ...base, replicas: "51" }, 'replicas: "51" is not accepted; use an integer from 1 to 50'],
        ["replicas text", { ...base, replicas: "three" }, 'replicas: "three" is not accepted; use an integer from 1 to 50'],
        ["per-user without users", { ...base, mode: "per-user" }, 'users: is required with mode "per-user": a list of user ids (lowercase DNS labels), e.g. ["alice","bob"]'],
        ["per-user with an empty list", { ...base, mode: "per-user", users: "[]" }, 'users: is an empty list; mode "per-user" needs at least one user id'],
        [
            "user id with capitals",
            { ...base, mode: "per-user", users: '["Alice"]' },
            'users: users[0].id "Alice" is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters',
        ],
        [
            "user id too long",
            { ...base, mode: "per-user", users: JSON.stringify(["a".repeat(41)]) },
            `users: users[0].id "${"a".repeat(41)}" is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters`,
        ],
        [
            "user id with a separator",
            { ...base, mode: "per-user", users: '["alice:x"]' },
            'users: users[0].id "alice:x" is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters',
        ],
        ["duplicate user id", { ...base, mode: "per-user", users: '["alice",{"id":"alice"}]' }, 'users: user id "alice" appears more than once; each user id must be unique'],
        ["users in shared mode", { ...base, users: '["alice"]' }, 'users: is set, but users applies to mode "per-user" only; set mode to "per-user" or remove the key'],
        ["replicas in per-user mode", { ...base, mode: "per-user", users: '["a"]', replicas: "3" }, 'replicas: "3" is set, but replicas applies to mode "shared" only; per-user mode runs one server per user (remove the key)'],
        ["cliVersion latest", { ...base, cliVersion: "latest" }, `cliVersion: "latest" is not accepted; use an exact version x.y.z such as "${DEFAULT_CLI_VERSION}" (no "latest", ranges or prefixes)`],
        ["cliVersion range", { ...base, cliVersion: "^1.0.0" }, `cliVersion: "^1.0.0" is not accepted; use an exact version x.y.z such as "${DEFAULT_CLI_VERSION}" (no "latest", ranges or prefixes)`],
        ["cliVersion with v", { ...base, cliVersion: "v1.0.102" }, `cliVersion: "v1.0.102" is not accepted; use an exact version x.y.z such as "${DEFAULT_CLI_VERSION}" (no "latest", ranges or prefixes)`],
        [
            "githubToken and provider",
            { ...base, provider: '{"baseUrl":"https://m.example.com/v1","model":"m"}' },
            "githubToken: and provider are both set; choose one model credential: githubToken (the servers hold a service token) or provider (BYOK; clients pass it)",
        ],
        [
            "neither githubToken nor provider",
            { platform: "kubernetes", image: base.image },
            "githubToken: is not set and neither is provider; set one: `pulumi config set --secret githubToken <token>` or `pulumi config set --path provider.baseUrl <url>` (+ provider.model), " +
                "or `pulumi config set credentials perSession` (apps pass each user's GitHub token)",
        ],
        [
            "provider without baseUrl",
            { platform: "kubernetes", image: base.image, provider: '{"model":"gpt-4.1"}' },
            "provider.baseUrl: is required with provider: the model endpoint's base URL, e.g. https://example.openai.azure.com/openai/v1",
        ],
        [
            "provider without model",
            { platform: "kubernetes", image: base.image, provider: '{"baseUrl":"https://m.example.com/v1"}' },
            "provider.model: is required with provider: the model name the provider serves, e.g. gpt-4.1",
        ],
        [
            "provider with a bad type",
            { platform: "kubernetes", image: base.image, provider: '{"type":"bedrock","baseUrl":"https://m.example.com/v1","model":"m"}' },
            'provider.type: "bedrock" is not accepted; use one of "openai", "azure", "anthropic"',
        ],
        [
            "provider baseUrl not a URL",
            { platform: "kubernetes", image: base.image, provider: '{"baseUrl":"models.example.com","model":"m"}' },
            'provider.baseUrl: "models.example.com" is not accepted; use an http:// or https:// URL',
        ],
        ["public without allowedCidrs", { ...base, exposure: "public" }, 'allowedCidrs: is required with exposure "public": the source ranges allowed to reach the load balancer, e.g. ["203.0.113.0/24"]'],
        ["malformed CIDR", { ...base, exposure: "public", allowedCidrs: '["10.0.0.0/33"]' }, 'allowedCidrs: "10.0.0.0/33" is not a CIDR; use ranges like "203.0.113.0/24" or "2001:db8::/32"'],
        ["CIDR without prefix", { ...base, exposure: "internal", allowedCidrs: '["10.1.2.3"]' }, 'allowedCidrs: "10.1.2.3" is not a CIDR; use ranges like "203.0.113.0/24" or "2001:db8::/32"'],
        [
            "per-user internal without allowedCidrs",
            { ...base, mode: "per-user", users: '["a"]', exposure: "internal" },
            'allowedCidrs: is required with exposure "internal" in mode "per-user": without it the NetworkPolicies admit all private ranges, which on most CNIs include other users\' pods; list your callers\' ranges (excluding the pod network)',
        ],
        ["allowedCidrs with cluster exposure", { ...base, allowedCidrs: '["10.0.0.0/8"]' }, 'allowedCidrs: is set, but exposure is "cluster" (no load balancer); set exposure to "internal" or "public", or remove the key'],
        ["image latest", { ...base, image: "ghcr.io/acme/copilot:latest" }, 'image: "ghcr.io/acme/copilot:latest" is not accepted: its tag is "latest" (it moves under you); use repo:exact-tag or repo@sha256:<digest>'],
        ["image without tag", { ...base, image: "registry:5000/copilot" }, 'image: "registry:5000/copilot" is not accepted: it has no tag or digest (an unpinned image moves under you); use repo:exact-tag or repo@sha256:<digest>'],
        ["imageBaseImage unpinned", { ...base, imageBaseImage: "debian:bookworm-slim@sha256:abc" }, 'imageBaseImage: "debian:bookworm-slim@sha256:abc" is not accepted: its digest is not sha256:<64 hex digits>; use a pinned Debian bookworm image, repo:exact-tag or repo@sha256:<digest>'],
        ["imageBaseImage with image", { ...base, image: "copilot-cli:1.0.102", imageBaseImage: "mirror.example.com/debian:12.12-slim" }, 'imageBaseImage: is set together with image "copilot-cli:1.0.102"; with image nothing is built, so remove one of them'],
        ["imageReleaseBaseUrl over plain http", { ...base, imageReleaseBaseUrl: "http://mirror.example.com/copilot" }, 'imageReleaseBaseUrl: "http://mirror.example.com/copilot" is not accepted: use https:// (http:// only to localhost, 127.0.0.1 or [::1])'],
        ["imageReleaseBaseUrl not a URL", { ...base, imageReleaseBaseUrl: "mirror/copilot" }, 'imageReleaseBaseUrl: "mirror/copilot" is not accepted: it is not a URL; use e.g. "https://mirror.example.com/copilot-cli/releases/v1.0.102"'],
        ["imageReleaseBaseUrl with a query", { ...base, imageReleaseBaseUrl: "https://mirror.example.com/r?v=1" }, 'imageReleaseBaseUrl: "https://mirror.example.com/r?v=1" is not accepted: it has a query or fragment; the build appends /SHA256SUMS.txt and the asset name to it'],
        [
            "kubernetes without image or repository",
            { platform: "kubernetes", githubToken: "t" },
            'image: is not set and neither is imageRepository; on platform "kubernetes" set image (a prebuilt, pinned reference) or imageRepository (a registry the cluster can pull from; the image is built and pushed there)',
        ],
        ["short connection token", { ...base, connectionToken: "short" }, "connectionToken: is shorter than 16 characters; use a long random value (or unset it and one is generated)"],
        ["bad storage size", { ...base, storageSize: "lots" }, 'storageSize: "lots" is not accepted; use a Kubernetes quantity such as "10Gi" or "100Gi"'],
        ["bad namespace", { ...base, namespace: "Copilot_NS" }, 'namespace: "Copilot_NS" is not accepted; use a lowercase DNS label of at most 63 characters'],
        ["redis not boolean", { ...base, redis: "yes" }, 'redis: "yes" is not a boolean; use true or false'],
        ["sessionTtlHours zero", { ...base, sessionTtlHours: "0" }, 'sessionTtlHours: "0" is not accepted; use an integer from 1 to 8760'],
        ...["7", "90", "0", "2880", "1.5", ""].map((v): [string, Record<string, string>, string] => [
            `sessionCleanupIntervalMinutes ${JSON.stringify(v)} (no cron schedule fires at that interval)`,
            { ...base, sessionCleanupIntervalMinutes: v },
            `sessionCleanupIntervalMinutes: ${JSON.stringify(v)} is not accepted; use minutes that divide an hour (5, 6, 10, 12, 15, 20, 30) or whole hours that divide a day (60, 120, 180, 240, 360, 480, 720, 1440)`,
        ]),
        [
            "users not JSON",
            { ...base, mode: "per-user", users: "alice,bob" },
            "users: is not valid JSON; use a list (set it with `pulumi config set --path` or in YAML). The text is not shown: users can hold GitHub tokens",
        ],
        ["resources bad quantity", { ...base, resources: '{"memoryLimit":"lots"}' }, 'resources.memoryLimit: "lots" is not a Kubernetes quantity such as "500m", "1", "512Mi" or "2Gi"'],
    ];
    it.each(cases)("%s", (_name, raw, message) => {
        expect(problems(raw)).toContain(message);
    });

    it("reports every problem at once, each naming its key", () => {
        const found = problems({ platform: "kubernetes", image: "c:1", mode: "x", replicas: "99", exposure: "public", cliVersion: "latest" });
        expect(found.map((m) => m.split(":")[0]).sort()).toEqual(["allowedCidrs", "cliVersion", "githubToken", "mode", "replicas"]);
    });
});

describe("no message shows a secret value, whole or in part", () => {
    const SENTINEL = "ghp_SENTINEL123";
    const perUser: RawConfig = { ...base, mode: "per-user" };
    const byok = (p: unknown): RawConfig => ({ platform: "kubernetes", image: base.image, provider: typeof p === "string" ? p : JSON.stringify(p) });
    const url = "https://models.example.com/v1";

    /** Each malformed shape puts the sentinel where a token could land, and names the exact message expected. */
    const cases: Array<[string, RawConfig, string]> = [
        ["users as bare text", { ...perUser, users: SENTINEL }, "users: is not valid JSON; use a list (set it with `pulumi config set --path` or in YAML). The text is not shown: users can hold GitHub tokens"],
        ["users as broken JSON", { ...perUser, users: `[{"id":"alice","githubToken":"${SENTINEL}"` }, "users: is not valid JSON; use a list (set it with `pulumi config set --path` or in YAML). The text is not shown: users can hold GitHub tokens"],
        ["users as an object", { ...perUser, users: JSON.stringify({ alice: SENTINEL }) }, 'users: is an object, not a list; use a list in which each item is a user id string or an object { id, githubToken, suspended }'],
        ["users as a JSON string", { ...perUser, users: JSON.stringify(SENTINEL) }, 'users: is a string, not a list; use a list in which each item is a user id string or an object { id, githubToken, suspended }'],
        ["a token as a user id", { ...perUser, users: JSON.stringify([SENTINEL]) }, 'users: users[0].id (a string, not shown: it may be a credential) is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters'],
        ["a token as an id field", { ...perUser, users: JSON.stringify([{ id: SENTINEL }]) }, 'users: users[0].id (a string, not shown: it may be a credential) is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters'],
        ["an object as an id", { ...perUser, users: JSON.stringify([{ id: { githubToken: SENTINEL } }]) }, 'users: users[0].id (an object) is not accepted; a user id must be a lowercase DNS label (a-z, 0-9 and "-", starting and ending with a letter or digit) of at most 40 characters'],
        ["a user keyed by id", { ...perUser, users: JSON.stringify([{ alice: SENTINEL }]) }, 'users: users[0] has unknown field(s) "alice"; accepted: "id", "githubToken", "suspended"'],
        ["a token as a field name", { ...perUser, users: JSON.stringify([{ id: "alice", [SENTINEL]: true }]) }, 'users: users[0] has unknown field(s) 1 whose name is not shown; accepted: "id", "githubToken", "suspended"'],
        ["a misspelt token field", { ...perUser, users: JSON.stringify([{ id: "alice", token: SENTINEL }]) }, 'users: users[0] has unknown field(s) "token"; accepted: "id", "githubToken", "suspended"'],
        ["a user as a list", { ...perUser, users: JSON.stringify([["alice", SENTINEL]]) }, "users: users[0] is a list of 2 items; use a user id string or an object { id, githubToken, suspended }"],
        ["a user as a number", { ...perUser, users: "[42]" }, "users: users[0] is a number; use a user id string or an object { id, githubToken, suspended }"],
        ["a githubToken as a list", { ...perUser, users: JSON.stringify(["bob", { id: "alice", githubToken: [SENTINEL] }]) }, "users: users[1].githubToken (user \"alice\") is a list of 1 item; use a non-empty string: `pulumi config set --path --secret 'users[1].githubToken' <token>`"],
        ["a githubToken as an object", { ...perUser, users: JSON.stringify([{ id: "alice", githubToken: { value: SENTINEL } }]) }, "users: users[0].githubToken (user \"alice\") is an object; use a non-empty string: `pulumi config set --path --secret 'users[0].githubToken' <token>`"],
        ["a githubToken with a newline", { ...perUser, users: JSON.stringify([{ id: "alice", githubToken: `${SENTINEL}\n` }]) }, 'users: users[0].githubToken (user "alice") has leading or trailing whitespace (a pasted newline?); set it again without'],
        ["a token in suspended", { ...perUser, users: JSON.stringify([{ id: "alice", suspended: SENTINEL }]) }, 'users: users[0].suspended (user "alice") is a string; use true or false (unquoted)'],
        ["a duplicate user with a token", { ...perUser, users: JSON.stringify(["alice", { id: "alice", githubToken: SENTINEL }]) }, 'users: user id "alice" appears more than once; each user id must be unique'],
        ["users with tokens in shared mode", { ...base, users: JSON.stringify([{ id: "alice", githubToken: SENTINEL }]) }, 'users: is set, but users applies to mode "per-user" only; set mode to "per-user" or remove the key'],
        ["provider as bare text", byok(SENTINEL), "provider: is not valid JSON; use an object (set it with `pulumi config set --path` or in YAML). The text is not shown: provider holds the API key"],
        ["provider as broken JSON", byok(`{"apiKey":"${SENTINEL}",`), "provider: is not valid JSON; use an object (set it with `pulumi config set --path` or in YAML). The text is not shown: provider holds the API key"],
        ["provider as a list", byok([SENTINEL]), "provider: is a list of 1 item, not an object; use { type, baseUrl, model, apiKey } (apiKey as a secret)"],
        ["provider as a JSON string", byok(JSON.stringify(SENTINEL)), "provider: is a string, not an object; use { type, baseUrl, model, apiKey } (apiKey as a secret)"],
        ["a misspelt apiKey", byok({ baseUrl: url, model: "m", api_key: SENTINEL }), 'provider: unknown field(s) "api_key"; accepted: "type", "baseUrl", "model", "apiKey"'],
        ["a key as a field name", byok({ baseUrl: url, model: "m", [SENTINEL]: "x" }), 'provider: unknown field(s) 1 whose name is not shown; accepted: "type", "baseUrl", "model", "apiKey"'],
        ["apiKey as a number", byok({ baseUrl: url, model: "m", apiKey: 123456 }), "provider.apiKey: is a number; use a non-empty string: `pulumi config set --path --secret provider.apiKey <key>`"],
        ["apiKey as an object", byok({ baseUrl: url, model: "m", apiKey: { secure: SENTINEL } }), "provider.apiKey: is an object; use a non-empty string: `pulumi config set --path --secret provider.apiKey <key>`"],
        ["apiKey with a newline", byok({ baseUrl: url, model: "m", apiKey: `${SENTINEL}\n` }), "provider.apiKey: has leading or trailing whitespace (a pasted newline?); set it again without"],
        ["a key as the type", byok({ type: SENTINEL, baseUrl: url, model: "m" }), 'provider.type: (a string, not shown: it may be a credential) is not accepted; use one of "openai", "azure", "anthropic"'],
        ["a key as the base URL", byok({ baseUrl: SENTINEL, model: "m" }), "provider.baseUrl: (a string, not shown: it may be a credential) is not accepted; use an http:// or https:// URL"],
        ["a key in a base URL's query", byok({ baseUrl: `models.example.com/v1?api-key=${SENTINEL}`, model: "m" }), "provider.baseUrl: (a string, not shown: it may be a credential) is not accepted; use an http:// or https:// URL"],
        ["a key as the model", byok({ baseUrl: url, model: { name: SENTINEL } }), "provider.model: (an object) is not accepted; use a model name string"],
        ["githubToken beside provider", { ...byok({ baseUrl: url, model: "m" }), githubToken: SENTINEL }, "githubToken: and provider are both set; choose one model credential: githubToken (the servers hold a service token) or provider (BYOK; clients pass it)"],
        ["githubToken with a newline", { ...base, githubToken: `${SENTINEL}\n` }, "githubToken: has leading or trailing whitespace (a pasted newline?); set it again without: `pulumi config set --secret githubToken <token>`"],
        ["a short connectionToken", { ...base, connectionToken: "ghp_SENT" }, "connectionToken: is shorter than 16 characters; use a long random value (or unset it and one is generated)"],
        ["a connectionToken with spaces", { ...base, connectionToken: `${SENTINEL} ${SENTINEL}` }, "connectionToken: contains whitespace (a pasted newline?); use a long random value without spaces (or unset it and one is generated)"],
        ["a connectionToken in per-user mode", { ...perUser, users: '["a"]', connectionToken: SENTINEL.repeat(2) }, 'connectionToken: is set, but per-user mode generates one token per user so that no two users share one; remove the key'],
        ["telemetry as broken JSON", { ...base, telemetry: `{"otlpEndpoint":"http://otel:4318","headers":{"Authorization":"Bearer ${SENTINEL}"}` }, "telemetry: is not valid JSON; use an object (set it with `pulumi config set --path` or in YAML). The text is not shown: a headers field would carry credentials"],
        ["telemetry with headers", { ...base, telemetry: JSON.stringify({ otlpEndpoint: "http://otel:4318", headers: { Authorization: `Bearer ${SENTINEL}` } }) }, 'telemetry: unknown field "headers": the servers send to an OpenTelemetry Collector inside your network, and the collector holds the backend\'s credentials, so no secret reaches the servers'],
        ["telemetry endpoint with credentials", { ...base, telemetry: JSON.stringify({ otlpEndpoint: `https://user:${SENTINEL}@otel.example.com` }) }, "telemetry.otlpEndpoint: carries credentials (user:password@host; not shown); remove them: the collector inside your network holds the backend's credentials"],
    ];

    it.each(cases)("%s", (_name, raw, message) => {
        let error: unknown;
        try {
            parseFleetConfig(raw);
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const err = error as ConfigError;
        expect(err.issues.map((i) => i.message)).toContain(message);
        // Nothing of the sentinel beyond its public prefix: not the whole, not a fragment, not JSON-escaped.
        const text = `${err.message}\n${err.stack ?? ""}\n${JSON.stringify(err.issues)}`;
        for (const part of ["SENTINEL", "NEL123", "SENT"]) expect(text).not.toContain(part);
    });

    it("the check can fail: a non-secret key still echoes its value", () => {
        expect(problems({ ...base, namespace: SENTINEL }).join("\n")).toContain(SENTINEL);
    });
});

describe("documentation", () => {
    const pulumiYaml = readFileSync("Pulumi.yaml", "utf8");
    // The config table is README's "Configuration" section; a key named elsewhere in README does not count.
    const readme = readFileSync("README.md", "utf8");
    const start = readme.indexOf("\n## Configuration\n");
    const table = readme.slice(start, readme.indexOf("\n## ", start + 1));
    it("README has a Configuration section", () => expect(start).toBeGreaterThanOrEqual(0));
    it.each([...CONFIG_KEYS])("%s is documented in Pulumi.yaml and in README's config table", (key) => {
        expect(pulumiYaml).toMatch(new RegExp(`^#   ${key}[: (]`, "m"));
        expect(table).toContain(`| \`${key}\` |`);
    });
    it.each([...SECRET_CONFIG_KEYS.filter((k) => k === "githubToken" || k === "connectionToken")])("%s is documented as secret in Pulumi.yaml", (key) => {
        expect(pulumiYaml).toMatch(new RegExp(`^#   ${key}: string, secret\\.`, "m"));
    });
    // Found by the real engine: the Pulumi CLI treats every project key declared without a default as
    // required, so a `config:` block of optional keys made `pulumi preview` fail on every stack.
    it("Pulumi.yaml declares no project config key (each would be required by the Pulumi CLI)", () => {
        const project = parseYaml(pulumiYaml) as Record<string, unknown>;
        expect(Object.keys(project).sort()).toEqual(["description", "main", "name", "runtime"]);
    });
});

describe("protectSessionState", () => {
    it("defaults on for kubernetes and aci, off for docker", () => {
        expect(parseFleetConfig(base).protectSessionState).toBe(true);
        expect(parseFleetConfig({ platform: "aci", githubToken: "t" }).protectSessionState).toBe(true);
        expect(parseFleetConfig({ platform: "docker", githubToken: "t" }).protectSessionState).toBe(false);
    });
    it("can be switched either way", () => {
        expect(parseFleetConfig({ ...base, protectSessionState: "false" }).protectSessionState).toBe(false);
        expect(parseFleetConfig({ platform: "docker", githubToken: "t", protectSessionState: "true" }).protectSessionState).toBe(true);
    });
    it("names key, value and what is accepted", () => {
        expect(problems({ ...base, protectSessionState: "yes" })).toContain('protectSessionState: "yes" is not a boolean; use true or false');
    });
});

describe("readRawConfig", () => {
    const project = "copilot-fleet";
    const values: Record<string, string> = {
        platform: "kubernetes",
        image: base.image!,
        githubToken: "gho_service_secret",
        connectionToken: "c".repeat(32),
        replicas: "2",
    };
    const secretKeys = ["githubToken", "connectionToken"];

    /**
     * A config bag with upstream's "use getSecret" warning switched back on (it is commented out in
     * @pulumi/pulumi 3.x, pulumi/pulumi#7127), so a plain read of a secret key is seen.
     */
    class WarningConfig implements ConfigSource {
        readonly reads: Array<[string, "get" | "getSecret"]> = [];
        constructor(readonly name: string) {}
        get(key: string): string | undefined {
            this.reads.push([key, "get"]);
            if (secretKeys.includes(key) && values[key] !== undefined) {
                pulumi.log.warn(`Configuration '${this.name}:${key}' value is a secret; use \`getSecret\` instead of \`get\``);
            }
            return values[key];
        }
        getSecret(key: string): pulumi.Output<string> | undefined {
            this.reads.push([key, "getSecret"]);
            return values[key] === undefined ? undefined : pulumi.secret(values[key]);
        }
    }

    afterEach(() => vi.restoreAllMocks());

    it("the harness sees a plain read of a secret key", () => {
        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        new WarningConfig(project).get("githubToken");
        expect(warn).toHaveBeenCalledTimes(1);
    });

    it("reads secret keys with getSecret, so no warning is logged, and the parsed values are secret Outputs", async () => {
        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        const config = new WarningConfig(project);
        const raw = await readRawConfig(config);
        expect(warn).not.toHaveBeenCalled();
        expect(raw).toEqual(values);
        for (const key of CONFIG_KEYS) {
            expect(config.reads.filter(([k]) => k === key)).toEqual([[key, SECRET_CONFIG_KEYS.includes(key) ? "getSecret" : "get"]]);
        }
        expect(SECRET_CONFIG_KEYS).toEqual(["githubToken", "connectionToken", "provider", "users"]);

        const cfg = parseFleetConfig(raw);
        if (cfg.credential.kind !== "githubToken") throw new Error("expected the GitHub token credential");
        expect(await pulumi.isSecret(cfg.credential.githubToken)).toBe(true);
        expect(await pulumi.isSecret(cfg.connectionToken!)).toBe(true);
        expect(await promiseOf(cfg.credential.githubToken)).toBe("gho_service_secret");
    });

    it("reads Pulumi's own config store: secret keys set with --secret, no warning", async () => {
        const warn = vi.spyOn(pulumi.log, "warn").mockImplementation(() => Promise.resolve());
        const before = pulumi.runtime.allConfig();
        pulumi.runtime.setAllConfig(
            Object.fromEntries(Object.entries(values).map(([k, v]) => [`${project}:${k}`, v])),
            secretKeys.map((k) => `${project}:${k}`),
        );
        try {
            const raw = await readRawConfig(new pulumi.Config(project));
            expect(raw).toEqual(values);
            expect(warn).not.toHaveBeenCalled();
        } finally {
            pulumi.runtime.setAllConfig(before, []);
        }
    });
});

describe("platform aci", () => {
    const aci: RawConfig = { platform: "aci", githubToken: "gho_service" };

    it("needs no image (the stack builds into its own registry) and defaults the network", () => {
        const cfg = parseFleetConfig(aci);
        expect(cfg).toMatchObject({ platform: "aci", mode: "shared", vnetAddressSpace: "10.42.0.0/16" });
        expect(cfg.location).toBeUndefined();
        expect(cfg.resourceGroupName).toBeUndefined();
    });

    it("accepts location, an existing resource group and an address space", () => {
        const cfg = parseFleetConfig({ ...aci, location: "westeurope", resourceGroupName: "Platform_RG-(1).prod", vnetAddressSpace: "172.20.0.0/22", exposure: "internal" });
        expect(cfg).toMatchObject({ location: "westeurope", resourceGroupName: "Platform_RG-(1).prod", vnetAddressSpace: "172.20.0.0/22", exposure: "internal" });
    });

    const cases: Array<[string, RawConfig, string]> = [
        [
            "public exposure",
            { ...aci, exposure: "public", allowedCidrs: '["203.0.113.0/24"]' },
            'exposure: "public" is not supported on platform "aci": container groups in a virtual network get no public IP and an Azure Load Balancer cannot front them; use "internal" (allowedCidrs limits the callers) and put your own ingress (Application Gateway v2, a VPN or a peered network) in front',
        ],
        ["storageClass", { ...aci, storageClass: "azurefile-csi" }, 'storageClass: "azurefile-csi" is set, but storageClass applies to platform "kubernetes" only (session state is an Azure Files share in the stack\'s storage account); remove the key'],
        ["namespace", { ...aci, namespace: "copilot" }, 'namespace: "copilot" is set, but namespace applies to platform "kubernetes" only (there is no Kubernetes object on ACI); remove the key'],
        ["createNamespace", { ...aci, createNamespace: "false" }, 'createNamespace: "false" is set, but createNamespace applies to platform "kubernetes" only (there is no Kubernetes object on ACI); remove the key'],
        ["serviceAnnotations", { ...aci, serviceAnnotations: "{}" }, 'serviceAnnotations: "{}" is set, but serviceAnnotations applies to platform "kubernetes" only (there is no Kubernetes object on ACI); remove the key'],
        [
            "clientAffinity",
            { ...aci, clientAffinity: "true" },
            'clientAffinity: "true" is set, but clientAffinity applies to platform "kubernetes" only (the ACI load balancer balances by least connections; route by session id in the client); remove the key',
        ],
        [
            "imageRepository",
            { ...aci, imageRepository: "myacr.azurecr.io/copilot-cli" },
            'imageRepository: "myacr.azurecr.io/copilot-cli" is set, but on platform "aci" the image is pushed to the stack\'s own Azure Container Registry (pulled by managed identity); remove the key, or set image to a prebuilt public reference',
        ],
        ["per-user redis", { ...aci, mode: "per-user", users: '["a"]', redis: "true" }, 'redis: true is not accepted with mode "per-user" on platform "aci": each user has a single server, so session locks are not needed; remove the key'],
        ["location with spaces", { ...aci, location: "West Europe" }, 'location: "West Europe" is not an Azure region name; use the lowercase name ARM uses, e.g. "westeurope" or "eastus2" (`az account list-locations -o table`)'],
        ["resource group ending in a dot", { ...aci, resourceGroupName: "rg." }, 'resourceGroupName: "rg." is not a resource group name: 1-90 letters, digits, "_", "-", ".", "(", ")", not ending in "."'],
        ["resource group too long", { ...aci, resourceGroupName: "r".repeat(91) }, `resourceGroupName: "${"r".repeat(91)}" is not a resource group name: 1-90 letters, digits, "_", "-", ".", "(", ")", not ending in "."`],
        ["address space IPv6", { ...aci, vnetAddressSpace: "fd00::/48" }, 'vnetAddressSpace: "fd00::/48" is not an IPv4 CIDR; use e.g. "10.42.0.0/16"'],
        ["address space too small", { ...aci, vnetAddressSpace: "10.0.0.0/27" }, 'vnetAddressSpace: "10.0.0.0/27" has prefix /27; accepted /8 to /24 (the two subnets are its first two quarters); use e.g. "10.42.0.0/16"'],
        ["address space host bits", { ...aci, vnetAddressSpace: "10.42.1.0/16" }, 'vnetAddressSpace: "10.42.1.0/16" is not a network address (host bits set after /16); use e.g. "10.42.0.0/16"'],
        ["a share larger than Azure Files holds", { ...aci, storageSize: "6Ti" }, 'storageSize: "6Ti" is 6144 GiB; an Azure Files share holds at most 5120 GiB on platform "aci"'],
        ["per-user redis on kubernetes", { ...base, mode: "per-user", users: '["a"]', redis: "true" }, 'redis: true is not accepted with mode "per-user" on platform "kubernetes": each user has a single server, so session locks are not needed; remove the key'],
        ["aci key on kubernetes", { ...base, location: "westeurope" }, 'location: "westeurope" is set, but location applies to platform "aci" only; remove the key'],
        ["aci key on docker", { platform: "docker", githubToken: "t", vnetAddressSpace: "10.0.0.0/16" }, 'vnetAddressSpace: "10.0.0.0/16" is set, but vnetAddressSpace applies to platform "aci" only; remove the key'],
    ];
    it.each(cases)("refuses %s", (_name, raw, message) => {
        expect(problems(raw)).toContain(message);
    });
});

describe("imageReferenceProblem", () => {
    it.each(["copilot-cli:1.0.102", "registry.example.com:5000/team/copilot-cli:1.0.102-linux-amd64", `acr.azurecr.io/copilot@sha256:${"a".repeat(64)}`])("accepts %s", (ref) => {
        expect(imageReferenceProblem(ref)).toBeUndefined();
    });
    it.each(["copilot-cli", "copilot-cli:latest", "registry:5000/copilot", "copilot@sha256:abc", ""])("refuses %s", (ref) => {
        expect(imageReferenceProblem(ref)).toBeTypeOf("string");
    });
});

describe("credentials: perSession (servers hold no model credential)", () => {
    const bare: RawConfig = { platform: "kubernetes", image: base.image };
    const perSession = 'credentials is "perSession" (the servers hold no model credential; apps pass each user\'s gitHubToken on every create and resume)';

    it("parses in shared and per-user mode, with no token or provider anywhere", () => {
        expect(parseFleetConfig({ ...bare, credentials: "perSession" }).credential).toEqual({ kind: "perSession" });
        const users = parseFleetConfig({ ...bare, credentials: "perSession", mode: "per-user", users: '["alice",{"id":"bob","suspended":true}]' });
        expect(users.credential).toEqual({ kind: "perSession" });
        expect(users.users.every((u) => u.githubToken === undefined)).toBe(true);
    });

    it("keeps the implied kinds when credentials is unset, and accepts them stated", () => {
        expect(parseFleetConfig(base).credential.kind).toBe("githubToken");
        expect(parseFleetConfig({ ...base, credentials: "githubToken" }).credential.kind).toBe("githubToken");
        const provider = '{"baseUrl":"https://m.example.com/v1","model":"m"}';
        expect(parseFleetConfig({ ...bare, provider }).credential.kind).toBe("provider");
        expect(parseFleetConfig({ ...bare, provider, credentials: "provider" }).credential.kind).toBe("provider");
    });

    const cases: [string, RawConfig, string][] = [
        ["an unknown value", { ...bare, credentials: "perUser" }, 'credentials: "perUser" is not accepted; use one of "githubToken", "provider", "perSession"'],
        ["case matters", { ...bare, credentials: "persession" }, 'credentials: "persession" is not accepted; use one of "githubToken", "provider", "perSession"'],
        ["perSession with a service token", { ...base, credentials: "perSession" }, `githubToken: is set, but ${perSession}; remove githubToken, or remove credentials to put this service token on every server`],
        [
            "perSession with BYOK",
            { ...bare, credentials: "perSession", provider: '{"baseUrl":"https://m.example.com/v1","model":"m"}' },
            `provider: is set, but ${perSession}; the CLI refuses a session that carries both a GitHub token and a provider, so remove one of provider and credentials`,
        ],
        [
            "perSession with users' own tokens",
            { ...bare, credentials: "perSession", mode: "per-user", users: '["carol",{"id":"alice","githubToken":"gho_a"},{"id":"bob","githubToken":"gho_b"}]' },
            `users: "alice", "bob" have a githubToken, but ${perSession}; remove users[].githubToken or credentials`,
        ],
        [
            "githubToken stated but not set",
            { ...bare, credentials: "githubToken" },
            'githubToken: is required with credentials "githubToken": `pulumi config set --secret githubToken <token>` (or use credentials "provider" or "perSession")',
        ],
        [
            "provider stated but not set",
            { ...base, credentials: "provider" },
            'provider: is required with credentials "provider": `pulumi config set --path provider.baseUrl <url>` (+ provider.model), or use credentials "githubToken" or "perSession"',
        ],
    ];
    it.each(cases)("%s", (_name, raw, message) => {
        expect(problems(raw)).toEqual([message]);
    });

    it("never prints a token value in its messages", () => {
        const found = problems({ ...bare, githubToken: "gho_SECRETVALUE", credentials: "perSession", mode: "per-user", users: '[{"id":"alice","githubToken":"gho_ALICESECRET"}]' });
        expect(found).toHaveLength(2);
        expect(found.join("\n")).not.toMatch(/SECRETVALUE|ALICESECRET/);
    });
});
